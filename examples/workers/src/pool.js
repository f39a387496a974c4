// Component instances for one isolate, one per request in flight.
//
// workerd sends concurrent requests to one isolate. jco runs one call at a
// time per component instance (an exclusive lock per instance; with JSPI a
// call keeps it while the component waits on fetch or KV), and a request
// that waits on a promise another request resolves is cancelled by workerd
// as hung ("The Workers runtime canceled this request because it detected
// that your Worker's code had hung"). So a shared instance fails every
// request that overlaps another. Instead each request takes an idle instance
// (or makes one, in its own request context) and gives it back when its
// call -- or its stream -- is over. Instances are never waited for.
//
// Each instance holds its own linear memory and its own opened
// gateway; all state that must be shared (cache, cost totals, rate-limit
// counters) is in wasi:keyvalue, i.e. KV and the Durable Object.

export function instancePool(create) {
  const idle = [];
  return {
    /** An idle instance, or a new one. */
    async acquire() {
      return idle.pop() ?? (await create());
    },
    /** Give back an instance whose call finished (with a result or a gateway error). */
    release(instance) {
      idle.push(instance);
    },
    /** Drop an instance that trapped or failed in an unknown way: it is not reused. */
    discard(_instance) {},
    get idle() {
      return idle.length;
    },
  };
}

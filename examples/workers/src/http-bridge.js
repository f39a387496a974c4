// A streaming `wasi:http/incoming-handler` bridge for workerd.
//
// preview2-shim 0.26.1's browser `handleIncomingRequest` awaits the guest's
// whole `handle` call and builds the `Response` from the finished body, so a
// component served through it cannot stream: an SSE reply arrives in one
// piece when the upstream has finished. This module serves the same export
// with the server side of `wasi:http/types` done here instead:
//
//   incoming-request, and the incoming-body of a request (read from the
//     Worker's Request, buffered: request bodies are small JSON)
//   outgoing-response, its outgoing-body and output-stream: the body is a
//     `ReadableStream`, and every write the component makes is enqueued on
//     it at once
//   response-outparam: `set` resolves the Worker's `Response` immediately,
//     before the component has written any of the body
//
// The client side (outgoing-request, future-incoming-response, the response
// bodies the component reads from `fetch`) stays preview2-shim's. Two
// resources exist on both sides -- `incoming-body` and `outgoing-body` -- and
// jco has one class per resource, so `IncomingBody` and `OutgoingBody` below
// accept both the shim's instances and ours (`Symbol.hasInstance`) and their
// static `finish` dispatches to the right one. Output streams are the shim's
// own `wasi:io/streams` class (made with its `outputStreamCreate`), so
// `wasi:io` needs no change.
//
// Backpressure: the body stream holds at most HIGH_WATER bytes the client
// has not read; beyond that `check-write` grants 0 and the blocking calls
// wait until workerd pulls. When the client goes away the component's next
// write fails with `closed`, so it stops (and drops the upstream request).
// workerd tells us through `request.signal` (compatibility flag
// `enable_request_signal`); it does not cancel the body stream itself.

import { types as shimTypes } from "@bytecodealliance/preview2-shim/http";
import { inputStreamCreate, outputStreamCreate, pollableCreate } from "@bytecodealliance/preview2-shim/io";

const symbolDispose = Symbol.dispose || Symbol.for("dispose");
const enc = new TextEncoder();
const dec = new TextDecoder();
const HIGH_WATER = 64 * 1024;
const NULL_BODY_STATUS = new Set([101, 103, 204, 205, 304]);
// Headers a Fields resource refuses (preview2-shim's list): the Worker's
// Request may carry them, the component never sees them.
const FORBIDDEN = new Set(["connection", "keep-alive", "host"]);

const { Fields, OutgoingRequest } = shimTypes;
const ShimIncomingBody = shimTypes.IncomingBody;
const ShimOutgoingBody = shimTypes.OutgoingBody;

/**
 * Make `fields` immutable, as wasi:http requires for the headers of an
 * incoming request and of an outgoing response. preview2-shim keeps its lock
 * private; its `outgoing-request` constructor applies it to the fields it is
 * given, so that constructor is used for exactly that (the request it makes
 * is dropped).
 */
function lock(fields) {
  void new OutgoingRequest(fields);
  return fields;
}

/** Headers of a Worker Request as (locked) wasi:http fields. */
function fieldsOf(headers) {
  const fields = new Fields();
  headers.forEach((value, name) => {
    if (!FORBIDDEN.has(name.toLowerCase())) fields.append(name, enc.encode(value));
  });
  return lock(fields);
}

// ------------------------------------------------------------ request side

class RequestBody {
  #stream;
  #finished = false;
  constructor(bytes) {
    let offset = 0;
    const read = (len) => {
      if (offset >= bytes.byteLength) throw { tag: "closed" };
      const n = Math.min(Number(len), bytes.byteLength - offset);
      const slice = bytes.slice(offset, offset + n);
      offset += n;
      return slice;
    };
    this.#stream = inputStreamCreate({
      read,
      blockingRead: read,
      subscribe: () => pollableCreate(),
    });
  }
  stream() {
    const s = this.#stream;
    if (!s) throw undefined;
    this.#stream = null;
    return s;
  }
  static finish(body) {
    if (body.#finished) throw new Error("incoming body already finished");
    body.#finished = true;
    // No trailers on a Worker request: the shim's own future-trailers is
    // already resolved and empty.
    return new shimTypes.FutureTrailers();
  }
  static isOurs(o) {
    return o !== null && typeof o === "object" && #stream in o;
  }
  [symbolDispose]() {}
}

class IncomingRequest {
  #request;
  #url;
  #headers;
  #body;
  constructor(request, bytes) {
    this.#request = request;
    this.#url = new URL(request.url);
    this.#headers = fieldsOf(request.headers);
    this.#body = new RequestBody(bytes);
  }
  method() {
    const m = this.#request.method.toLowerCase();
    const known = ["get", "head", "post", "put", "delete", "connect", "options", "trace", "patch"];
    return known.includes(m) ? { tag: m } : { tag: "other", val: this.#request.method };
  }
  pathWithQuery() {
    return `${this.#url.pathname}${this.#url.search}`;
  }
  scheme() {
    if (this.#url.protocol === "http:") return { tag: "HTTP" };
    if (this.#url.protocol === "https:") return { tag: "HTTPS" };
    return { tag: "other", val: this.#url.protocol.slice(0, -1) };
  }
  authority() {
    return this.#url.host;
  }
  headers() {
    return this.#headers;
  }
  consume() {
    const b = this.#body;
    if (!b) throw undefined;
    this.#body = null;
    return b;
  }
  [symbolDispose]() {}
}

/** `incoming-body`: a request body of ours, or a response body from the shim's `fetch`. */
class IncomingBody {
  static [Symbol.hasInstance](o) {
    return o instanceof ShimIncomingBody || RequestBody.isOurs(o);
  }
  static finish(body) {
    return RequestBody.isOurs(body) ? RequestBody.finish(body) : ShimIncomingBody.finish(body);
  }
}

// ------------------------------------------------------------ response side

/** The body of our outgoing response: a ReadableStream fed by the component's writes. */
class ResponseBody {
  #readable;
  #controller;
  #cancelled = false;
  #closed = false;
  #finished = false;
  #stream;
  #wake = null;
  #room = null;

  constructor() {
    this.#readable = new ReadableStream(
      {
        start: (c) => {
          this.#controller = c;
        },
        pull: () => this.#wakeWriters(),
        cancel: () => this.#cancel(),
      },
      { highWaterMark: HIGH_WATER, size: (chunk) => chunk.byteLength },
    );
    const body = this;
    this.#stream = outputStreamCreate({
      checkWrite() {
        body.#check();
        return BigInt(body.#permit());
      },
      write(buf) {
        body.#check();
        body.#controller.enqueue(new Uint8Array(buf));
      },
      blockingWriteAndFlush(buf) {
        body.#check();
        body.#controller.enqueue(new Uint8Array(buf));
        return body.#untilRoom();
      },
      flush() {},
      blockingFlush() {
        body.#check();
        return body.#untilRoom();
      },
      subscribe() {
        return pollableCreate({ ready: () => body.#cancelled || body.#permit() > 0, wait: () => body.#waitRoom() });
      },
    });
  }

  /** The client went away: the next write fails with `closed`. */
  #cancel() {
    this.#cancelled = true;
    this.#wakeWriters();
  }
  static clientGone(body) {
    body.#cancel();
  }
  #check() {
    if (this.#cancelled || this.#closed) throw { tag: "closed" };
  }
  #permit() {
    return Math.max(0, this.#controller.desiredSize ?? 0);
  }
  #waitRoom() {
    this.#room ??= new Promise((resolve) => (this.#wake = resolve));
    return this.#room;
  }
  #untilRoom() {
    // Returning nothing keeps the call synchronous; a promise makes the
    // component wait (JSPI) until the client has read enough.
    return this.#permit() > 0 || this.#cancelled ? undefined : this.#waitRoom();
  }
  #wakeWriters() {
    const wake = this.#wake;
    this.#wake = null;
    this.#room = null;
    wake?.();
  }

  write() {
    const s = this.#stream;
    if (!s) throw undefined;
    this.#stream = null;
    return s;
  }
  static finish(body, trailers) {
    if (trailers) throw { tag: "internal-error", val: "trailers are not supported on Workers" };
    if (body.#finished) throw { tag: "internal-error", val: "body already finished" };
    body.#finished = true;
    body.#end();
  }
  #end(error) {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#cancelled) return;
    if (error) this.#controller.error(error);
    else this.#controller.close();
  }
  /** The component failed after the response started: the client sees a broken body, not a clean end. */
  static abort(body, error) {
    body.#end(error);
  }
  static readable(body) {
    return body.#readable;
  }
  static isOurs(o) {
    return o !== null && typeof o === "object" && #readable in o;
  }
  [symbolDispose]() {
    // wasi:http: dropping an outgoing-body without `finish` means the body
    // is incomplete; say so to the client instead of ending it cleanly.
    if (!this.#finished) this.#end(new Error("the component dropped the response body without finishing it"));
  }
}

class OutgoingResponse {
  #headers;
  #status = 200;
  #body = null;
  constructor(headers) {
    this.#headers = lock(headers);
  }
  statusCode() {
    return this.#status;
  }
  setStatusCode(status) {
    if (!Number.isInteger(status) || status < 100 || status > 999) throw undefined;
    this.#status = status;
  }
  headers() {
    return this.#headers;
  }
  body() {
    if (this.#body) throw undefined;
    this.#body = new ResponseBody();
    return this.#body;
  }
  static toResponse(r) {
    const headers = new Headers();
    for (const [name, value] of r.#headers.entries()) headers.append(name, typeof value === "string" ? value : dec.decode(value));
    const stream = r.#body && !NULL_BODY_STATUS.has(r.#status) ? ResponseBody.readable(r.#body) : null;
    return { response: new Response(stream, { status: r.#status, headers }), body: r.#body };
  }
  [symbolDispose]() {}
}

/** `outgoing-body`: our response body, or the body of a request the component sends with the shim's `fetch`. */
class OutgoingBody {
  static [Symbol.hasInstance](o) {
    return o instanceof ShimOutgoingBody || ResponseBody.isOurs(o);
  }
  static finish(body, trailers) {
    return ResponseBody.isOurs(body) ? ResponseBody.finish(body, trailers) : ShimOutgoingBody.finish(body, trailers);
  }
}

class ResponseOutparam {
  #resolve;
  #body = null;
  #used = false;
  constructor(resolve) {
    this.#resolve = resolve;
  }
  static set(param, result) {
    if (param.#used) throw new Error("response outparam already set");
    param.#used = true;
    if (result.tag === "ok") {
      const { response, body } = OutgoingResponse.toResponse(result.val);
      param.#body = body;
      param.#resolve(response);
    } else {
      param.#resolve(new Response(`WASI HTTP handler error: ${JSON.stringify(result.val)}`, { status: 500 }));
    }
  }
  static used(param) {
    return param.#used;
  }
  static body(param) {
    return param.#body;
  }
  [symbolDispose]() {}
}

/** `wasi:http/types` for jco: preview2-shim's, with the server side replaced. */
export const streamingHttpTypes = {
  ...shimTypes,
  IncomingRequest,
  IncomingBody,
  OutgoingResponse,
  OutgoingBody,
  ResponseOutparam,
};

/**
 * Serve `request` through a component's `wasi:http/incoming-handler.handle`.
 * Resolves as soon as the component calls `response-outparam.set`, with a
 * `Response` whose body streams what the component writes. The returned
 * `done` settles when `handle` returns (rejects when it failed); pass it to
 * `ctx.waitUntil` so the isolate keeps running the component until then.
 */
export async function serveStreaming(request, handle) {
  const bytes = request.body ? new Uint8Array(await request.arrayBuffer()) : new Uint8Array();
  let resolve;
  let reject;
  const response = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const out = new ResponseOutparam(resolve);
  request.signal?.addEventListener("abort", () => {
    const body = ResponseOutparam.body(out);
    if (body) ResponseBody.clientGone(body);
  });
  const done = (async () => handle(new IncomingRequest(request, bytes), out))().then(
    () => {
      if (!ResponseOutparam.used(out)) reject(new Error("the component returned without setting its response"));
    },
    (error) => {
      if (!ResponseOutparam.used(out)) reject(error);
      else {
        const body = ResponseOutparam.body(out);
        if (body) ResponseBody.abort(body, error instanceof Error ? error : new Error(String(error)));
      }
      throw error;
    },
  );
  try {
    return { response: await response, done };
  } catch (e) {
    done.catch(() => {});
    throw e;
  }
}

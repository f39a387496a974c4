import { createGateway } from "@workkit/ai-gateway";
// @ts-expect-error: the default provider must be one of the configured ones
createGateway({ providers: { openai: { type: "openai" } }, defaultProvider: "anthropic" });
// @ts-expect-error: stream events are typed
(await createGateway({ providers: { o: { type: "openai" } } }).stream("m", "hi")).getReader().read().then((r) => r.value?.delta);

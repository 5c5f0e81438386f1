/**
 * @module observability/tracing
 * OpenTelemetry tracing from the core's tracing channels (`tracing:postern:request:*` and
 * `tracing:postern:dispatch:*`, observability/events.ts), exported over OTLP/HTTP. Off by default; with tracing
 * off nothing subscribes and the request path only checks `hasSubscribers`.
 *
 * Per routed request: a SERVER span (`GET sandbox/HTTP`) whose parent is the client's W3C `traceparent` when it
 * sent one; a `chain` span for its providers, from the match until the dispatch starts (or the chain answers by
 * itself); and a CLIENT span for the dispatch (`dispatch http`, or `dispatch websocket` for a handshake) whose
 * context goes to the backend as `traceparent` (and `tracestate`) — replacing the client's own, which then is
 * the server span's parent. The trace id is written back into the request so its log lines carry it.
 *
 * Sampling is parent-based: a caller's sampled flag is followed, new traces are kept at
 * `postern.tracing.sample.ratio`. An unsampled request still gets ids and still propagates them.
 *
 * Attributes never carry a query string, a header value or a user's credentials; backend URLs appear without
 * their query (the trace store is the operator's).
 */
import {
  type Context,
  DiagLogLevel,
  defaultTextMapGetter,
  defaultTextMapSetter,
  diag,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import type { TracingSettings } from '../config/gateway-site.ts';
import { GatewayError } from '../errors.ts';
import { addTo, type Exchange } from '../spi/index.ts';
import { type DispatchTrace, dispatchTracing, type RequestTrace, requestTracing } from './events.ts';
import type { Logger } from './logger.ts';

/** The spans of one request in flight. */
interface RequestSpans {
  server: Span;
  context: Context;
  chain: Span | undefined;
}

export interface TracingOptions {
  log?: Logger;
  /** Replaces the OTLP exporter's batch processor (tests of the span shapes). */
  spanProcessor?: SpanProcessor;
}

export class GatewayTracing {
  readonly #provider: BasicTracerProvider;
  readonly #tracer: Tracer;
  readonly #propagator = new W3CTraceContextPropagator();
  readonly #requests = new WeakMap<Exchange, RequestSpans>();
  readonly #dispatches = new WeakMap<DispatchTrace, Span>();
  readonly #requestHandlers;
  readonly #dispatchHandlers;

  constructor(settings: TracingSettings, options: TracingOptions = {}) {
    const log = options.log;
    if (log) {
      // The exporter reports failures through OpenTelemetry's diag API: into the gateway log, once per problem.
      const seen = new Set<string>();
      const warn = (message: string, ...args: unknown[]) => {
        const text = [message, ...args.map((a) => (a instanceof Error ? a.message : String(a)))].join(' ');
        if (seen.size < 100 && !seen.has(text)) {
          seen.add(text);
          log.warn({ type: 'tracing' }, `tracing: ${text}`);
        }
      };
      diag.setLogger(
        { error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} },
        { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
      );
    }
    const processor =
      options.spanProcessor ??
      new BatchSpanProcessor(
        new OTLPTraceExporter({ url: settings.endpoint, headers: Object.fromEntries(settings.headers) }),
      );
    this.#provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': settings.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(settings.sampleRatio) }),
      spanProcessors: [processor],
    });
    this.#tracer = this.#provider.getTracer('postern');
    this.#requestHandlers = {
      start: (m: RequestTrace) => this.#requestStart(m),
      end: ignore,
      asyncStart: ignore,
      asyncEnd: (m: RequestTrace) => this.#requestEnd(m),
      error: ignore,
    };
    this.#dispatchHandlers = {
      start: (m: DispatchTrace) => this.#dispatchStart(m),
      end: ignore,
      asyncStart: ignore,
      asyncEnd: (m: DispatchTrace) => this.#dispatchEnd(m),
      error: ignore,
    };
    requestTracing.subscribe(this.#requestHandlers);
    dispatchTracing.subscribe(this.#dispatchHandlers);
  }

  /** Unsubscribes, then exports what is pending. */
  async close(): Promise<void> {
    requestTracing.unsubscribe(this.#requestHandlers);
    dispatchTracing.unsubscribe(this.#dispatchHandlers);
    await this.#provider.shutdown();
  }

  async flush(): Promise<void> {
    await this.#provider.forceFlush();
  }

  #requestStart(t: RequestTrace): void {
    const req = t.ex.req;
    const parent =
      req.headers.traceparent === undefined
        ? ROOT_CONTEXT
        : this.#propagator.extract(ROOT_CONTEXT, req.headers, defaultTextMapGetter);
    const method = req.method ?? 'GET';
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const server = this.#tracer.startSpan(
      `${method} ${t.topology}/${t.service}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': method,
          'url.path': q < 0 ? url : url.slice(0, q),
          'url.scheme': t.ex.rewriteContext.inbound.scheme,
          'client.address': t.ex.clientAddress ?? '',
          'postern.topology': t.topology,
          'postern.service': t.service,
          'postern.request_id': t.ex.id,
          ...(t.upgrade && { 'postern.upgrade': 'websocket' }),
        },
      },
      parent,
    );
    const context = trace.setSpan(parent, server);
    const chain = this.#tracer.startSpan('chain', { attributes: { 'postern.chain': [...t.chain] } }, context);
    this.#requests.set(t.ex, { server, context, chain });
    t.traceId = server.spanContext().traceId;
  }

  #requestEnd(t: RequestTrace): void {
    const spans = this.#requests.get(t.ex);
    if (!spans) return;
    this.#requests.delete(t.ex);
    const status = t.status ?? 0;
    if (spans.chain) {
      // The chain answered by itself (a 401, a redirect to a login page, a refusal): no dispatch ran.
      spans.chain.setAttribute('postern.answered', status);
      spans.chain.end();
    }
    spans.server.setAttribute('http.response.status_code', status);
    if (t.aborted) spans.server.setAttribute('postern.aborted', true);
    if (status >= 500) spans.server.setStatus({ code: SpanStatusCode.ERROR });
    spans.server.end();
  }

  #dispatchStart(d: DispatchTrace): void {
    const ex = d.ex;
    const spans = this.#requests.get(ex);
    if (spans?.chain) {
      spans.chain.end();
      spans.chain = undefined;
    }
    const parent = spans?.context ?? ROOT_CONTEXT;
    const attributes: Record<string, string | number> = { 'postern.dispatch': d.kind };
    const target = backendUrl(ex);
    if (target) {
      attributes['url.full'] = target.href;
      attributes['server.address'] = target.hostname;
      if (target.port) attributes['server.port'] = Number(target.port);
    }
    const span = this.#tracer.startSpan(`dispatch ${d.kind}`, { kind: SpanKind.CLIENT, attributes }, parent);
    this.#dispatches.set(d, span);
    const carrier: Record<string, string> = {};
    this.#propagator.inject(trace.setSpan(parent, span), carrier, defaultTextMapSetter);
    for (const name in carrier) addTo(ex, 'addRequestHeaders', [name, carrier[name]]);
  }

  #dispatchEnd(d: DispatchTrace): void {
    const span = this.#dispatches.get(d);
    if (!span) return;
    this.#dispatches.delete(d);
    if (d.error !== undefined) {
      const status = d.error instanceof GatewayError ? d.error.status : 500;
      span.setAttribute('http.response.status_code', status);
      span.setAttribute('error.type', d.error instanceof GatewayError ? d.error.code : 'internal');
      span.setStatus({ code: SpanStatusCode.ERROR });
    } else {
      span.setAttribute('http.response.status_code', d.ex.res.statusCode);
      if (d.ex.res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }
}

function ignore(): void {}

/** The backend URL the dispatch goes to, without its query or user info. */
function backendUrl(ex: Exchange): URL | undefined {
  let url = ex.target;
  if (url === undefined) return undefined;
  if (ex.targetEdits) for (const edit of ex.targetEdits) url = edit(url);
  if (!URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  parsed.search = '';
  parsed.username = '';
  parsed.password = '';
  parsed.hash = '';
  return parsed;
}

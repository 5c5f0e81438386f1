/**
 * @module spi
 * The plugin contract: what a provider, dispatch, gateway-answered service or topology contributor is given and
 * must return. Plugins import it as `postern/spi`. It is a leaf: it imports nothing of the gateway's runtime
 * (only the configuration and definition models it describes), so a plugin builds against it without pulling in
 * the gateway, and the runtime depends on it, never the other way round (test/spi/import-graph.test.ts checks
 * both).
 */
export * from './audit.ts';
export * from './exchange.ts';
export * from './expect-continue.ts';
export * from './factories.ts';
export * from './gateway-handle.ts';
export * from './rewrite.ts';
export * from './services.ts';
export * from './token-state.ts';

/**
 * @module observability/events
 * What the core publishes about itself, on `node:diagnostics_channel`: exporters (metrics, the admin console,
 * postern's own channels) subscribe, and the core never imports them. Publishing to a channel without
 * subscribers costs a property check.
 */
import diagnostics_channel from 'node:diagnostics_channel';

/** A proxied WebSocket opened or closed. */
export interface WebSocketEvent {
  event: 'open' | 'close';
  topology: string;
  service: string;
  /** The request id of the upgrade. */
  reqId: string;
  /** On close: how long it was open, bytes each way, the close code and who closed it. */
  ms?: number;
  bytesIn?: number;
  bytesOut?: number;
  closeCode?: number;
  closedBy?: string;
}

export const websocketEvents = diagnostics_channel.channel('postern:websocket');

/**
 * @module services/knox-admin/beans
 * Knox's admin API topology bean (`org.apache.knox.gateway.service.admin.beans.Topology`, written by Knox's
 * `TopologyMarshaller` with EclipseLink MOXy) in both its media types, and back: what `GET topologies/{id}`
 * answers and `PUT topologies/{id}` accepts. The bean holds what Knox's `BeanConverter` keeps of a topology —
 * uri, name, path, timestamp, generated, redeployTime, the providers (`gateway/provider`), services and
 * applications, each with their params and urls — so a topology PUT through it loses what Knox's loses too
 * (chains, dispatch overrides). JSON has MOXy's root (`{"topology": {...}}`) and lists as arrays; empty lists and
 * absent values are left out, as MOXy does.
 */
import { parseXml, type XmlElement } from '../../config/xml.ts';
import type { Topology } from '../../topology/model.ts';

export interface ParamBean {
  name: string;
  value: string;
}

export interface ProviderBean {
  role: string;
  name: string;
  enabled: boolean;
  param?: ParamBean[];
}

export interface ServiceBean {
  role?: string;
  name?: string;
  version?: string;
  param?: ParamBean[];
  url?: string[];
}

export interface TopologyBean {
  uri?: string;
  name?: string;
  path?: string;
  timestamp?: number;
  generated?: boolean;
  redeployTime?: number;
  gateway?: { provider: ProviderBean[] };
  service?: ServiceBean[];
  application?: ServiceBean[];
}

const params = (list: readonly { name: string; value: string }[]) =>
  list.length > 0 ? list.map((p) => ({ name: p.name, value: p.value })) : undefined;

const urls = (list: readonly { url: string }[]) => (list.length > 0 ? list.map((u) => u.url) : undefined);

/** The bean of a deployed topology (Knox's `BeanConverter.getTopology`). */
export function beanOf(topology: Topology, extra: { uri: string; timestamp: number }): TopologyBean {
  const bean: TopologyBean = {
    uri: extra.uri,
    name: topology.name,
    path: topology.defaultPath,
    timestamp: extra.timestamp,
    generated: topology.generated,
    redeployTime: 0,
  };
  if (topology.providers.length > 0) {
    bean.gateway = {
      provider: topology.providers.map((p) => ({
        role: p.role,
        name: p.name,
        enabled: p.enabled,
        param: params(p.params),
      })),
    };
  }
  if (topology.services.length > 0) {
    bean.service = topology.services.map((s) => ({
      role: s.role,
      name: s.name,
      version: s.version,
      param: params(s.params),
      url: urls(s.urls),
    }));
  }
  if (topology.applications.length > 0) {
    bean.application = topology.applications.map((a) => ({
      role: a.role,
      name: a.name,
      version: a.version,
      param: params(a.params),
      url: urls(a.urls),
    }));
  }
  return bean;
}

/** MOXy's JSON: the root element as the one key, absent values left out. */
export function beanJson(bean: TopologyBean): string {
  return JSON.stringify({ topology: bean }, null, 2);
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"]/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : '&quot;',
  );
}

/** Writes XML by nesting, three spaces a level as MOXy's formatted output. */
class XmlOut {
  readonly lines: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  #depth = 0;
  open(tag: string): void {
    this.lines.push(`${'   '.repeat(this.#depth++)}<${tag}>`);
  }
  close(tag: string): void {
    this.lines.push(`${'   '.repeat(--this.#depth)}</${tag}>`);
  }
  leaf(tag: string, value: string | number | boolean | undefined): void {
    if (value === undefined) return;
    this.lines.push(`${'   '.repeat(this.#depth)}<${tag}>${escapeXml(String(value))}</${tag}>`);
  }
  toString(): string {
    return `${this.lines.join('\n')}\n`;
  }
}

function writeService(out: XmlOut, tag: string, s: ServiceBean): void {
  out.open(tag);
  out.leaf('role', s.role);
  out.leaf('name', s.name);
  out.leaf('version', s.version);
  for (const p of s.param ?? []) {
    out.open('param');
    out.leaf('name', p.name);
    out.leaf('value', p.value);
    out.close('param');
  }
  for (const u of s.url ?? []) out.leaf('url', u);
  out.close(tag);
}

/** The bean as Knox's XML (`application/xml`): also a topology file postern's XML reader reads. */
export function beanXml(bean: TopologyBean, options: { file?: boolean } = {}): string {
  const out = new XmlOut();
  out.open('topology');
  if (!options.file) out.leaf('uri', bean.uri);
  out.leaf('name', bean.name);
  out.leaf('path', bean.path);
  if (!options.file) {
    out.leaf('timestamp', bean.timestamp);
    out.leaf('generated', bean.generated);
    out.leaf('redeployTime', bean.redeployTime);
  }
  if (bean.gateway) {
    out.open('gateway');
    for (const p of bean.gateway.provider) {
      out.open('provider');
      out.leaf('role', p.role);
      out.leaf('name', p.name);
      out.leaf('enabled', p.enabled);
      for (const param of p.param ?? []) {
        out.open('param');
        out.leaf('name', param.name);
        out.leaf('value', param.value);
        out.close('param');
      }
      out.close('provider');
    }
    out.close('gateway');
  }
  for (const s of bean.service ?? []) writeService(out, 'service', s);
  for (const a of bean.application ?? []) writeService(out, 'application', a);
  out.close('topology');
  return out.toString();
}

// ---------------------------------------------------------------------------------------------------------------
// Reading a PUT body
// ---------------------------------------------------------------------------------------------------------------

/** What a request body said that is not a topology bean: the message a 400 gives. */
export class BeanError extends Error {}

const text = (v: unknown, what: string): string | undefined => {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new BeanError(`${what} must be a string`);
};

/** MOXy reads one object where a list is declared, and a list. */
const many = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);

const object = (v: unknown, what: string): Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    throw new BeanError(`${what} must be an object`);
  return v as Record<string, unknown>;
};

function paramsOf(v: unknown, what: string): ParamBean[] | undefined {
  const list = many(v).map((p, i) => {
    const o = object(p, `${what}.param[${i}]`);
    return {
      name: text(o.name, `${what}.param[${i}].name`) ?? '',
      value: text(o.value, `${what}.param[${i}].value`) ?? '',
    };
  });
  return list.length > 0 ? list : undefined;
}

function serviceOf(v: unknown, what: string): ServiceBean {
  const o = object(v, what);
  const url = many(o.url).map((u, i) => text(u, `${what}.url[${i}]`) ?? '');
  return {
    role: text(o.role, `${what}.role`),
    name: text(o.name, `${what}.name`),
    version: text(o.version, `${what}.version`),
    param: paramsOf(o.param, what),
    url: url.length > 0 ? url : undefined,
  };
}

/** A JSON body: `{"topology": {...}}` as Knox writes it, or the bean alone. */
export function beanFromJson(source: string): TopologyBean {
  let parsed: unknown;
  try {
    parsed = JSON.parse(source);
  } catch (err) {
    throw new BeanError(`the body is not JSON: ${(err as Error).message}`);
  }
  const root = object(parsed, 'the body');
  const t = object('topology' in root ? root.topology : root, 'topology');
  const gateway = t.gateway === undefined ? undefined : object(t.gateway, 'topology.gateway');
  return {
    name: text(t.name, 'topology.name'),
    path: text(t.path, 'topology.path'),
    gateway: gateway && {
      provider: many(gateway.provider).map((p, i) => {
        const o = object(p, `provider[${i}]`);
        const enabled = text(o.enabled, `provider[${i}].enabled`);
        return {
          role: text(o.role, `provider[${i}].role`) ?? '',
          name: text(o.name, `provider[${i}].name`) ?? '',
          enabled: enabled === undefined ? false : enabled.trim().toLowerCase() === 'true',
          param: paramsOf(o.param, `provider[${i}]`),
        };
      }),
    },
    service: many(t.service).map((s, i) => serviceOf(s, `service[${i}]`)),
    application: many(t.application).map((a, i) => serviceOf(a, `application[${i}]`)),
  };
}

const child = (el: XmlElement, name: string) => el.childrenNamed(name)[0]?.text;

function xmlService(el: XmlElement): ServiceBean {
  const param = el
    .childrenNamed('param')
    .map((p) => ({ name: child(p, 'name') ?? '', value: child(p, 'value') ?? '' }));
  const url = el.childrenNamed('url').map((u) => u.text);
  return {
    role: child(el, 'role'),
    name: child(el, 'name'),
    version: child(el, 'version'),
    param: param.length > 0 ? param : undefined,
    url: url.length > 0 ? url : undefined,
  };
}

/**
 * An XML body, read into the bean as Knox's unmarshaller does (a DOCTYPE is refused: Knox's reader turns entities
 * off, KNOX-1308).
 */
export function beanFromXml(source: string, file: string): TopologyBean {
  if (/<!DOCTYPE/i.test(source)) throw new BeanError('a DOCTYPE is not accepted in a topology');
  let root: XmlElement;
  try {
    root = parseXml(source, file);
  } catch (err) {
    throw new BeanError(`the body is not XML: ${(err as Error).message}`);
  }
  if (root.name !== 'topology') throw new BeanError(`the root element is <${root.name}>, not <topology>`);
  const gateway = root.childrenNamed('gateway')[0];
  return {
    name: child(root, 'name'),
    path: child(root, 'path'),
    gateway: gateway && {
      provider: gateway.childrenNamed('provider').map((p) => ({
        role: child(p, 'role') ?? '',
        name: child(p, 'name') ?? '',
        enabled: (child(p, 'enabled') ?? '').trim().toLowerCase() === 'true',
        param: xmlService(p).param,
      })),
    },
    service: root.childrenNamed('service').map(xmlService),
    application: root.childrenNamed('application').map(xmlService),
  };
}

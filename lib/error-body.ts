// SPDX-License-Identifier: Apache-2.0
/**
 * Reading what a server says when it refuses: response headers, Retry-After, and every
 * documented error body shape. Plain parsing with no imports, so the error model
 * (lib/error-model.ts) and the transport can both use it without a cycle.
 */

function tryJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Response headers as undici gives them. */
export type ResponseHeaders = Record<string, string | string[] | undefined>;

export function headerValue(headers: ResponseHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After as milliseconds: delta-seconds (decimals accepted, leniently) or an HTTP-date. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (v.length === 0) return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const date = Date.parse(v);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** The fields every documented error body shape can carry. */
export interface ParsedErrorBody {
  serverMessage?: string;
  serverCode?: string | number;
  incidentId?: string;
  kafkaErrorCode?: number;
  topic?: string;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function code(v: unknown): string | number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : str(v);
}

/**
 * Reads any of the documented error bodies:
 * - IBM Cloud v1 `{error:{error_code,message}}`
 * - on-prem v1.0 `{error:{error_code,message,kafka_error_code,topic,incident}}`
 * - on-prem v1.1 `{error_code,message,error:{…}}`
 * - v2 `{trace,error:{code,message,more_info,target}}`
 * - Admin REST `{error_code,message,incident_id}`
 * - Classic `{errorCode,errorMessage}`
 * and, failing those, uses a short plain-text body as the message.
 */
export function parseErrorBody(text: string): ParsedErrorBody {
  const out: ParsedErrorBody = {};
  const body = tryJson(text);
  if (typeof body === 'object' && body !== null && !Array.isArray(body)) {
    const b = body as Record<string, unknown>;
    const inner =
      typeof b.error === 'object' && b.error !== null ? (b.error as Record<string, unknown>) : undefined;
    const e = inner ?? b;
    const message =
      str(e.message) ??
      str(b.message) ??
      str(e.errorMessage) ??
      str(b.errorMessage) ??
      str(b.error) ??
      str(b.error_description) ??
      str(b.detail);
    if (message !== undefined) out.serverMessage = message;
    const serverCode =
      code(e.code) ?? code(e.error_code) ?? code(b.error_code) ?? code(e.errorCode) ?? code(b.errorCode);
    if (serverCode !== undefined) out.serverCode = serverCode;
    const incident =
      str(e.incident_id) ??
      str(b.incident_id) ??
      str(e.incident) ??
      str(b.incident) ??
      str(b.trace) ??
      str(e.trace);
    if (incident !== undefined) out.incidentId = incident;
    const kafka = e.kafka_error_code ?? b.kafka_error_code;
    if (typeof kafka === 'number' && Number.isFinite(kafka)) out.kafkaErrorCode = kafka;
    const topic = str(e.topic) ?? str(b.topic);
    if (topic !== undefined) out.topic = topic;
  } else if (body === undefined && text.length > 0) {
    const plain = text.trim();
    // HTML error pages from proxies are noise; keep plain text only.
    if (plain.length > 0 && !plain.startsWith('<')) out.serverMessage = plain.slice(0, 500);
  }
  return out;
}

/** What the error is about, for messages: `Produce to topic "t"`, `Create topic "t"`, … */
export interface ErrorContext {
  operation: string;
  topic?: string;
  /** Credentials to scrub from anything the server echoes back. */
  secrets?: readonly string[];
  /** 404 means "topic not found" (produce, get/update topic); otherwise a generic not-found. */
  notFoundIsTopic?: boolean;
}

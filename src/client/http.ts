/**
 * Request plumbing shared by the client's calls: URLs against the base URL, JSON bodies,
 * and reading a response into a typed value or a `TesseraError`.
 */
import { errorFromResponse, networkError, type TesseraError } from "./errors.js";

export type FetchLike = (input: Request) => Promise<Response>;

/** Resolves `input` against the page (in a browser) or else the base URL. */
export function absoluteUrl(input: string | URL, baseUrl: string): string {
  const page = (globalThis as { location?: { href?: string } }).location?.href;
  return new URL(String(input), page ?? baseUrl).href;
}

export function jsonRequest(
  url: string,
  method: string,
  body?: unknown,
  headers?: Record<string, string>,
): Request {
  const all = new Headers(headers);
  all.set("accept", "application/json");
  if (body !== undefined) all.set("content-type", "application/json");
  return new Request(url, {
    method,
    headers: all,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** Sends, turning a network failure into `unavailable`. */
export async function send(fetchImpl: FetchLike, request: Request): Promise<Response> {
  try {
    return await fetchImpl(request);
  } catch (error) {
    throw networkError(error);
  }
}

/** The body of a successful response (undefined for 204), or throws its contract error. */
export async function read<T>(response: Response): Promise<T> {
  if (!response.ok) throw await errorFromResponse(response);
  if (response.status === 204) return undefined as T;
  return (await response.json()) as T;
}

/** The contract error code of a 401, read from a clone so the caller keeps the body. */
export async function codeOf401(response: Response): Promise<TesseraError["code"] | null> {
  if (response.status !== 401) return null;
  return (await errorFromResponse(response.clone())).code;
}

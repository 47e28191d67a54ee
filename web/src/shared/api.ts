/**
 * Calls to Herald's HTTP API from the dashboard's pages. The session cookie authorizes them; the
 * `X-Herald-Dashboard` header says so (a header a cross-site form cannot send). A 401 on any call means
 * the session is over: listeners of `onSignedOut` show the sign-in again.
 */

/** An error answer of the API: `{"error":{"code","message"}}` with its HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  /** Herald's error code, e.g. `HERALD_ERR_PRESENCE_DISABLED` (`HERALD_ERR_NETWORK` when unreachable). */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
  }
}

const signedOutListeners = new Set<() => void>();

/** Calls `listener` whenever an API call is refused for want of a session; returns the unsubscriber. */
export function onSignedOut(listener: () => void): () => void {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

export function notifySignedOut(): void {
  for (const listener of signedOutListeners) listener();
}

export interface RequestOptions {
  readonly method?: 'GET' | 'POST' | 'DELETE';
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  readonly body?: unknown;
  /** Whether a 401 signs the page out (default true; false for the sign-in itself). */
  readonly signOutOn401?: boolean;
}

export async function request<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(options.query ?? {})) {
    if (value !== undefined) url.searchParams.set(key, String(value));
  }
  const headers: Record<string, string> = { 'x-herald-dashboard': '1', accept: 'application/json' };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      credentials: 'same-origin',
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
  } catch {
    throw new ApiError(0, 'HERALD_ERR_NETWORK', 'Herald cannot be reached');
  }
  if (response.status === 204) return undefined as T;
  const body: unknown = await response.json().catch(() => undefined);
  if (response.ok) return body as T;
  const error = (body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const apiError = new ApiError(
    response.status,
    typeof error?.code === 'string' ? error.code : `HTTP_${response.status}`,
    typeof error?.message === 'string' ? error.message : `${response.status} ${response.statusText}`,
  );
  if (response.status === 401 && options.signOutOn401 !== false) notifySignedOut();
  throw apiError;
}

/** The message to show for a failed call. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

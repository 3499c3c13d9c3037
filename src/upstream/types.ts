/** A finished upstream HTTP exchange, body fully read (and capped) as text. */
export interface UpstreamResponse {
  statusCode: number;
  /** Lower-case names, as undici gives them. */
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * URLs as their writers wrote them. A signed link can sign its exact bytes (a query that
 * spells a UTF-8 file name `filename*=UTF-8''…`), and the WHATWG parser rewrites some of
 * them (a `'` as %27, an upper-case host, a default port): a URL already written in the
 * characters a URI may hold (RFC 3986) is handed out and fetched as it is.
 */

/** The characters RFC 3986 allows in a URI: text made of these alone needs no encoding. */
const URI_CHARACTERS = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]+$/;
const ABSOLUTE_HTTP = /^https?:\/\/[^/?#]/i;

/** An absolute http(s) URL written only in URI characters, without userinfo: it can be used as written. */
export function isWrittenAsUri(text: string): boolean {
  if (!ABSOLUTE_HTTP.test(text) || !URI_CHARACTERS.test(text) || !URL.canParse(text)) return false;
  const url = new URL(text);
  return url.username === '' && url.password === '';
}

/**
 * The path and query to request for `written` (parsed as `parsed`), byte for byte as
 * written when it can be; else as the parser has it. The fragment never goes on the wire.
 */
export function pathAsWritten(written: string, parsed: URL): string {
  const normalized = `${parsed.pathname}${parsed.search}`;
  const hash = written.indexOf('#');
  const text = hash === -1 ? written : written.slice(0, hash);
  if (!isWrittenAsUri(text)) return normalized;
  // The authority as written may differ from the parsed origin (case, a default port): skip it as written.
  const afterScheme = text.slice(text.indexOf('//') + 2);
  const pathStart = afterScheme.search(/[/?]/);
  if (pathStart === -1) return normalized;
  const rest = afterScheme.slice(pathStart);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

// Sign-in: Entra ID's authorization-code flow with PKCE (S256) through oauth4webapi, a public
// client (no secret). The endpoints, client id and scopes come from /console-config.json, which
// the query API serves from its typed configuration. The access token is kept in sessionStorage
// (this tab only, gone when it closes), never in a URL or a log line; the code and state leave
// the address bar as soon as they are read. No ID token is asked for (no `openid` scope): the
// console needs only the API's access token, whose claims it reads for display, never to decide
// what is allowed (the API checks every call).
import * as oauth from "oauth4webapi";

const SESSION = "auditlake.session";
const PENDING = "auditlake.pending";
/** Renew this long before the token's lifetime (by this browser's clock) runs out. */
const EARLY_MS = 60_000;

let config = null;
let session = null;
const listeners = new Set();

function server() {
  return {
    issuer: config.authority,
    authorization_endpoint: config.authorization_endpoint,
    token_endpoint: config.token_endpoint,
  };
}

/** Plain http is accepted only for a loopback authority (the tenant simulator). */
function insecureOk() {
  try {
    const u = new URL(config.token_endpoint);
    return u.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  } catch {
    return false;
  }
}

function redirectUri() {
  return `${location.origin}/`;
}

/** The claims of a JWT, for display only. */
function claimsOf(jwt) {
  try {
    const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    const bytes = Uint8Array.from(atob(part), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return {};
  }
}

function save(s) {
  session = s;
  if (s) sessionStorage.setItem(SESSION, JSON.stringify(s));
  else sessionStorage.removeItem(SESSION);
  for (const f of listeners) f(s);
}

/** Called when the session changes (signed in, expired, signed out). */
export function onChange(f) {
  listeners.add(f);
}

/** Loads the configuration and finishes a sign-in redirect when the URL carries one. */
export async function init(cfg) {
  config = cfg;
  if (config.auth_disabled) return { user: { name: "auth disabled", roles: ["auditlake.admin"] } };
  const here = new URL(location.href);
  if (here.searchParams.has("code") || here.searchParams.has("error")) {
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    sessionStorage.removeItem(PENDING);
    // The code and state leave the address bar (and the history) before anything else.
    history.replaceState(null, "", `${location.pathname}${pending?.hash || "#/"}`);
    if (!pending) throw new Error("A sign-in answer arrived that this tab did not ask for.");
    const client = { client_id: config.client_id };
    const params = oauth.validateAuthResponse(server(), client, here, pending.state);
    const response = await oauth.authorizationCodeGrantRequest(
      server(),
      client,
      oauth.None(),
      params,
      redirectUri(),
      pending.verifier,
      { [oauth.allowInsecureRequests]: insecureOk() },
    );
    const result = await oauth.processAuthorizationCodeResponse(server(), client, response);
    const claims = claimsOf(result.access_token);
    save({
      access_token: result.access_token,
      expires_at: Date.now() + (result.expires_in ?? 3600) * 1000,
      user: {
        name: String(claims.name ?? ""),
        upn: String(claims.preferred_username ?? ""),
        roles: Array.isArray(claims.roles) ? claims.roles.map(String) : [],
      },
    });
    return session;
  }
  const stored = JSON.parse(sessionStorage.getItem(SESSION) || "null");
  if (stored && stored.expires_at - EARLY_MS > Date.now()) session = stored;
  else sessionStorage.removeItem(SESSION);
  return session;
}

/** Goes to the authority's sign-in page; comes back to the view it left. */
export async function signIn(loginHint) {
  if (!config.client_id) throw new Error("Sign-in is not configured: set AUDITLAKE_CONSOLE_CLIENT_ID on the query API.");
  const verifier = oauth.generateRandomCodeVerifier();
  const state = oauth.generateRandomState();
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash || "#/" }));
  const url = new URL(config.authorization_endpoint);
  url.searchParams.set("client_id", config.client_id);
  url.searchParams.set("response_type", "code");
  url.searchParams.set("redirect_uri", redirectUri());
  url.searchParams.set("scope", config.scopes.join(" "));
  url.searchParams.set("state", state);
  url.searchParams.set("code_challenge", await oauth.calculatePKCECodeChallenge(verifier));
  url.searchParams.set("code_challenge_method", "S256");
  if (loginHint) url.searchParams.set("login_hint", loginHint);
  location.assign(url.href);
}

export function signOut() {
  save(null);
}

/** The access token, or null when signed out or expired (then the session ends). */
export function token() {
  if (config?.auth_disabled) return null;
  if (session && session.expires_at - EARLY_MS <= Date.now()) expire();
  return session ? session.access_token : null;
}

/** Ends the session because the token is no longer accepted. */
export function expire() {
  if (session) save(null);
}

export function user() {
  if (config?.auth_disabled) return { name: "auth disabled", roles: ["auditlake.admin"] };
  return session ? session.user : null;
}

export function isAdmin() {
  return (user()?.roles || []).includes("auditlake.admin");
}

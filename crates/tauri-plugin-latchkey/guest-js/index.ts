// tauri-plugin-latchkey's JavaScript API: sign-in commands and the session event.
// Nothing here can carry a token: the views name the person, the API answers are the API's.

import { invoke } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";

/** The event that carries every new {@link SessionView}. */
export const SESSION_CHANGED = "latchkey://session-changed";

/** Who is signed in. */
export interface ProfileView {
  sub: string;
  name: string;
  email: string | null;
  picture: string | null;
  /** The ID token's validated claims, pretty-printed JSON. */
  claimsJson: string;
}

/** Where the provider's own browser session stands after a sign-out. */
export type ProviderSession = "unknown" | "mayBeSignedIn" | "ending" | "ended";

/** What the window should show about the session. */
export type SessionView =
  | "loading"
  | {
      notConfigured: {
        configPath: string;
        problem: string | null;
        devStackExample: string;
        loopbackPorts: number[];
        callbackUrls: string[];
        portsFromFile: boolean;
      };
    }
  | {
      signedOut: {
        message: string | null;
        providerSession: ProviderSession;
        ended: string | null;
      };
    }
  | { waitingForBrowser: { signInUrl: string; signup: boolean; refused: string | null } }
  | {
      waitingForDevice: {
        verificationUri: string;
        verificationUriComplete: string | null;
        userCode: string;
        expiresInSecs: number;
      };
    }
  | { signedIn: { profile: ProfileView } }
  | { offline: { profile: ProfileView | null; reason: string; details: string } };

export type ApiMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** A call to the configured API; `path` is under its `apiUrl` (`/api/todos?page=2`). */
export interface ApiRequest {
  method?: ApiMethod;
  path: string;
  /** Sent as JSON; at most 1 MiB. */
  body?: unknown;
}

/** What the API answered. */
export interface ApiResult {
  status: number;
  /** The body, pretty-printed when it is JSON. */
  body: string;
  /** A sentence for a person when the status is not a success. */
  explanation: string | null;
}

const command = <T>(name: string, args?: Record<string, unknown>): Promise<T> =>
  invoke<T>(`plugin:latchkey|${name}`, args);

/** The session view now (`"loading"` until the stored session is restored). */
export const session = (): Promise<SessionView> => command("session");
/** Opens the provider's sign-in page in the system browser. */
export const login = (): Promise<void> => command("login");
/** "Use another account": the provider's account chooser or login screen. */
export const loginAnotherAccount = (): Promise<void> => command("login_another_account");
/** A device sign-in (RFC 8628): the view shows the code to enter at the provider. Needs the
 * `latchkey:allow-device-login` permission. */
export const deviceLogin = (): Promise<void> => command("device_login");
/** Opens the provider's sign-up screen. */
export const signup = (): Promise<void> => command("signup");
/** Stops waiting for the browser. */
export const cancelLogin = (): Promise<void> => command("cancel_login");
/** Signs out here: forgets the tokens and revokes the refresh token. */
export const logout = (): Promise<void> => command("logout");
/** After a sign-out, ends the provider's browser session too. */
export const endProviderSession = (): Promise<void> => command("end_provider_session");
/** The offline view's "Retry now". */
export const retryNow = (): Promise<void> => command("retry_now");
/** Reads the configuration file again and starts over with it. */
export const reloadConfig = (): Promise<void> => command("reload_config");
/** Calls the configured API from Rust, with the session's bearer. */
export const callApi = (request: ApiRequest): Promise<ApiResult> =>
  command("call_api", { request });

/** One account kept, as an account menu shows it (never a token). */
export interface AccountView {
  /** What {@link switchAccount} and {@link logoutAccount} take. */
  id: string;
  name: string;
  email: string | null;
  picture: string | null;
  active: boolean;
  /** The provider refused this account's session: it needs a sign-in in the browser. */
  signInAgain: boolean;
}

/** The accounts kept, the active one marked. */
export const accounts = (): Promise<AccountView[]> => command("accounts");
/** Makes another account the active one, without the browser. */
export const switchAccount = (id: string): Promise<void> => command("switch_account", { id });
/** Signs out of one account; the others stay. */
export const logoutAccount = (id: string): Promise<void> => command("logout_account", { id });
/** Signs out of every account. */
export const logoutAll = (): Promise<void> => command("logout_all");

/** Calls `handler` with every session view the plugin pushes. */
export const onSessionChanged = (handler: (view: SessionView) => void): Promise<UnlistenFn> =>
  listen<SessionView>(SESSION_CHANGED, (event) => handler(event.payload));

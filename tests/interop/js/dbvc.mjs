// dbvc.mjs: a tiny bridge from Merkki's pytest suite to the Digital Bazaar VC stack
// (@digitalbazaar/vc + data-integrity + eddsa-rdfc-2022-cryptosuite), used as an
// independent second implementation of VC Data Integrity `eddsa-rdfc-2022`.
//
// Protocol: one JSON request on stdin, one JSON answer on stdout.
//   {"op": "sign", "credential": {...}, "keyPair": {publicKeyMultibase, secretKeyMultibase,
//     controller, id}, "created"?: ISO date}                       -> the signed credential
//   {"op": "verify", "credential": {...}, "didDocuments"?: {DID: doc}, "now"?: ISO date,
//     "checkIssuer"?: bool (default true), "ignoreStatus"?: bool,
//     "bitstringStatus"?: bool}                          -> {verified, error, statuses?}
//     bitstringStatus: check BitstringStatusListEntry with @digitalbazaar/vc-bitstring-status-list
//     (the list credential fetched through the loader and verified); a set bit fails the
//     verification, as a wallet shows it ("statuses": [{purpose, index, set}]).
//   {"op": "generate"}        -> {publicKeyMultibase, secretKeyMultibase} (fresh Ed25519 key)
//   {"op": "canonize", "document": {...}} -> {nquads}: the exact canonicalization the
//     cryptosuite hashes (RDFC-1.0 via jsonld.toRDF + rdf-canonize, safe mode on)
// Every request may carry "contexts": {URL: absolute file path}; those files and the
// "didDocuments" (plus did:key, derived from the key itself) are all the document loader
// serves. Anything else throws: this script never touches the network, except through "web":
// {"https://public.origin": "http://127.0.0.1:PORT"}, which lets the loader fetch documents of
// those origins (did:web DID documents, did:web §"Read (Resolve)", and status lists) over HTTP
// from the loopback server given, as if that server answered for the public origin. Only
// responses with a JSON media type are accepted, as Digital Bazaar's http-client does.
// On failure the answer is {"error": {...}} and the exit code is 1.
// Imported (lcw_exchange.mjs), it runs nothing and exports makeDocumentLoader, verify, describe.
//
// JSON-LD safe mode: in the pinned versions it is not an option but hard-wired on.
// data-integrity 2.5.0 canonizes the document and the proof options with `safe: true`
// (lib/DataIntegrityProof.js createVerifyData/canonizeProof) and the cryptosuite's
// canonize() defaults to `safe: true` (lib/canonize.js), so an undefined term or a
// dropped value makes signing and verifying throw "Safe mode validation error.".
import {readFileSync} from 'node:fs';
import {fileURLToPath} from 'node:url';
import * as vc from '@digitalbazaar/vc';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import jsigs from 'jsonld-signatures';
import {checkStatus as checkBitstringStatus} from '@digitalbazaar/vc-bitstring-status-list';

const DID_V1 = 'https://www.w3.org/ns/did/v1';
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';

// did:key (W3C CCG did:key 0.7, Ed25519): the DID document follows from the key itself.
// Ed25519Multikey.from() rejects anything that is not a valid Ed25519 public key.
async function didKeyDocument(did) {
  const publicKeyMultibase = did.slice('did:key:'.length);
  await Ed25519Multikey.from({publicKeyMultibase, controller: did});
  const vmId = `${did}#${publicKeyMultibase}`;
  return {
    '@context': [DID_V1, MULTIKEY_V1],
    id: did,
    verificationMethod: [{id: vmId, type: 'Multikey', controller: did, publicKeyMultibase}],
    authentication: [vmId],
    assertionMethod: [vmId],
    capabilityDelegation: [vmId],
    capabilityInvocation: [vmId]
  };
}

// did:web §"Read (Resolve)": did:web:host%3Aport:a:b -> https://host:port/a/b/did.json
// (no path: /.well-known/did.json).
function didWebUrl(did) {
  const [host, ...path] = did.slice('did:web:'.length).split(':').map(decodeURIComponent);
  return `https://${host}/${path.length ? path.join('/') : '.well-known'}/did.json`;
}

// A document of a public origin mapped in "web", fetched from the loopback server instead.
async function fetchMapped(web, url) {
  const {origin, pathname, search} = new URL(url);
  if(!Object.hasOwn(web, origin)) {
    return undefined;
  }
  const response = await fetch(`${web[origin]}${pathname}${search}`,
    {headers: {accept: 'application/ld+json, application/json'}});
  if(!response.ok) {
    throw new Error(`dbvc: ${url}: HTTP ${response.status}`);
  }
  const type = response.headers.get('content-type') || '';
  if(!type.includes('json')) {
    throw new Error(`dbvc: ${url}: not JSON (${type})`);
  }
  return response.json();
}

export function makeDocumentLoader({contexts = {}, didDocuments = {}, web = {}}) {
  return async url => {
    const remote = document => ({contextUrl: null, documentUrl: url, document});
    if(Object.hasOwn(contexts, url)) {
      return remote(JSON.parse(readFileSync(contexts[url], 'utf8')));
    }
    const [did, fragment] = url.split('#');
    let didDocument;
    if(Object.hasOwn(didDocuments, did)) {
      didDocument = didDocuments[did];
    } else if(did.startsWith('did:key:')) {
      didDocument = await didKeyDocument(did);
    } else if(did.startsWith('did:web:') &&
      (didDocument = await fetchMapped(web, didWebUrl(did))) !== undefined) {
      // fetched (did:web): its id must be the DID itself (did:web §"Read (Resolve)")
      if(didDocument.id !== did) {
        throw new Error(`dbvc: the DID document of ${did} names ${didDocument.id}`);
      }
    } else if(/^https?:/.test(url)) {
      const document = await fetchMapped(web, url);
      if(document === undefined) {
        throw new Error(`dbvc: document not available offline: ${url}`);
      }
      return remote(document);
    } else {
      throw new Error(`dbvc: document not available offline: ${url}`);
    }
    if(fragment === undefined) {
      return remote(didDocument);
    }
    // A verification method URL: return that method (ids may be absolute or "#fragment").
    const method = (didDocument.verificationMethod || []).find(
      vm => vm.id === url || vm.id === `#${fragment}`);
    if(!method) {
      throw new Error(`dbvc: no verification method ${url} in its DID document`);
    }
    return remote({'@context': MULTIKEY_V1, ...method, id: url});
  };
}

async function sign({credential, keyPair, created, documentLoader}) {
  const key = await Ed25519Multikey.from({
    '@context': MULTIKEY_V1, type: 'Multikey', ...keyPair
  });
  const suite = new DataIntegrityProof({signer: key.signer(), date: created, cryptosuite});
  return vc.issue({credential, suite, documentLoader});
}

export async function verify({
  credential, documentLoader, now, checkIssuer = true, ignoreStatus, bitstringStatus
}) {
  const suite = new DataIntegrityProof({cryptosuite});
  // vc's default purpose also demands issuer == key controller; the W3C test vectors
  // (issuer https://vc.example/...) need the plain assertionMethod check instead.
  const purpose = checkIssuer ? undefined : new jsigs.purposes.AssertionProofPurpose();
  // vc refuses a credentialStatus without a checkStatus function. The signature still covers
  // the entry; only the (online) status list lookup is skipped when asked to.
  let checkStatus = ignoreStatus ? async () => ({verified: true}) : undefined;
  let statuses;
  if(bitstringStatus) {
    // The library verifies the list credential and reads the bit; "verified" there means the
    // check ran, so a set bit is turned into a failure here (what a wallet shows as revoked).
    checkStatus = async options => {
      const outcome = await checkBitstringStatus(
        {...options, suite: new DataIntegrityProof({cryptosuite})});
      if(!outcome.verified) {
        return outcome;
      }
      statuses = outcome.results.map(({credentialStatus, status}) => ({
        purpose: credentialStatus.statusPurpose,
        index: credentialStatus.statusListIndex,
        set: status
      }));
      const set = statuses.filter(entry => entry.set);
      return set.length === 0 ? outcome : {
        verified: false,
        error: new Error(`status set: ${set.map(entry => entry.purpose).join(', ')}`)
      };
    };
  }
  const result = await vc.verifyCredential(
    {credential, suite, purpose, documentLoader, now, checkStatus});
  return {
    verified: result.verified,
    // vc reports a failed status check in statusResult, not in error.
    error: result.verified ? null : describe(result.error || result.statusResult?.error),
    ...(statuses ? {statuses} : {})
  };
}

async function generate() {
  const key = await Ed25519Multikey.generate();
  // `canonicalize: true` exports the 32-byte seed (z3u2...), the form VC-DI-EdDSA §2.1.1 and
  // Merkki use; without it ed25519-multikey exports a legacy 64-byte seed+public key.
  const {publicKeyMultibase, secretKeyMultibase} = await key.export(
    {publicKey: true, secretKey: true, canonicalize: true});
  return {publicKeyMultibase, secretKeyMultibase};
}

// Errors come back as plain data; verification errors nest per proof in `.errors`,
// jsonld puts the error that caused its own in `.details.cause`.
export function describe(error) {
  if(!error) {
    return null;
  }
  const cause = error.cause || error.details?.cause;
  const nested = error.errors || (cause ? [cause] : []);
  return {
    name: error.name,
    message: error.message,
    code: error.details?.event?.code || error.details?.code,
    errors: nested.map(describe)
  };
}

const handlers = {
  sign,
  verify,
  generate,
  canonize: async ({document, documentLoader}) =>
    ({nquads: await cryptosuite.canonize(document, {documentLoader})})
};

async function main() {
  let input = '';
  for await (const chunk of process.stdin) {
    input += chunk;
  }
  const request = JSON.parse(input);
  const handler = handlers[request.op];
  if(!handler) {
    throw new Error(`dbvc: unknown op ${JSON.stringify(request.op)}`);
  }
  const documentLoader = makeDocumentLoader(request);
  return handler({...request, documentLoader});
}

if(process.argv[1] === fileURLToPath(import.meta.url)) {
  main().then(
    answer => process.stdout.write(JSON.stringify(answer)),
    error => {
      process.stdout.write(JSON.stringify({error: describe(error)}));
      process.exitCode = 1;
    });
}

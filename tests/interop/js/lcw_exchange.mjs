// lcw_exchange.mjs: the Learner Credential Wallet's side of a VC-API exchange, with the libraries
// it uses (@digitalcredentials/vc, @digitalcredentials/ed25519-signature-2020 and
// ed25519-verification-key-2020, @digitalcredentials/security-document-loader), run against a
// Merkki server on loopback by tests/interop/test_wallet_lcw.py. One process runs the whole
// scenario, so that the test starts node once.
//
// Protocol: one JSON request on stdin, one JSON answer on stdout.
//   {"offer": interaction URL, "expired": interaction URL of an expired offer,
//    "revoke": {"url", "token"}  (Merkki's API: revoke the original credential),
//    "merkkiVerify": URL of Merkki's POST /vc-api/credentials/verify,
//    "contexts", "web": as for dbvc.mjs (the Digital Bazaar verification of the copy)}
// The steps, as LCW takes them (GET the interaction URL with Accept: application/json, POST {}
// to the "vcapi" exchange, sign a DID Authentication presentation with the holder's did:key for
// the request's challenge and domain, POST it):
//   1. refused presentations first (wrong challenge, wrong domain, a signature that no longer
//      covers what is sent): their HTTP statuses;
//   2. the right presentation: the credential received;
//   3. the same offer again, and the expired offer: their statuses;
//   4. the credential verified by the Digital Bazaar stack (signature, issuer's did:web, the
//      Bitstring status list) and by Merkki's VC-API; then the original revoked through
//      Merkki's API and both verifications repeated.
import * as vc from '@digitalcredentials/vc';
import {Ed25519Signature2020} from '@digitalcredentials/ed25519-signature-2020';
import {Ed25519VerificationKey2020} from '@digitalcredentials/ed25519-verification-key-2020';
import {securityLoader} from '@digitalcredentials/security-document-loader';
import {describe, makeDocumentLoader, verify} from './dbvc.mjs';

const ED25519_2020 = 'https://w3id.org/security/suites/ed25519-2020/v1';

async function json(response) {
  const text = await response.text();
  try {
    return JSON.parse(text);
  } catch {
    return {text};
  }
}

async function post(url, body) {
  const response = await fetch(url, {
    method: 'POST',
    headers: {'content-type': 'application/json', accept: 'application/json'},
    body: JSON.stringify(body)
  });
  return {status: response.status, body: await json(response)};
}

// The holder: a fresh Ed25519 key and its did:key (as LCW makes on first start).
async function makeHolder() {
  const key = await Ed25519VerificationKey2020.generate();
  const did = `did:key:${key.fingerprint()}`;
  key.controller = did;
  key.id = `${did}#${key.fingerprint()}`;
  return {did, suite: new Ed25519Signature2020({key})};
}

async function didAuthentication(holder, {challenge, domain}, documentLoader) {
  const presentation = vc.createPresentation({holder: holder.did});
  // The suite's terms come from its own context (VC 2.0 does not define Ed25519Signature2020).
  presentation['@context'].push(ED25519_2020);
  return vc.signPresentation(
    {presentation, suite: holder.suite, challenge, domain, documentLoader});
}

// LCW's first steps: the interaction URL's protocols, then the exchange's request.
async function start(interactionUrl) {
  const protocols = await fetch(interactionUrl, {headers: {accept: 'application/json'}});
  const answer = await json(protocols);
  if(protocols.status !== 200) {
    return {status: protocols.status, answer};
  }
  const exchange = answer.protocols.vcapi;
  const request = await post(exchange, {});
  return {status: request.status, exchange, protocols: answer.protocols, request: request.body};
}

async function merkkiVerdict(url, credential) {
  const {status, body} = await post(url, {verifiableCredential: credential, options: {}});
  return {status, verified: body.verified, errors: body.errors};
}

async function main() {
  let input = '';
  for await (const chunk of process.stdin) {
    input += chunk;
  }
  const request = JSON.parse(input);
  const signingLoader = securityLoader().build();
  const verifyingLoader = makeDocumentLoader(request);
  const holder = await makeHolder();
  const out = {holder: holder.did};

  const started = await start(request.offer);
  out.protocols = started.protocols;
  const vpr = started.request.verifiablePresentationRequest;
  out.query = vpr.query;
  const {challenge, domain} = vpr;

  const refused = {};
  const wrongChallenge = await didAuthentication(
    holder, {challenge: `${challenge}x`, domain}, signingLoader);
  refused.wrongChallenge = await post(started.exchange, {verifiablePresentation: wrongChallenge});
  const wrongDomain = await didAuthentication(
    holder, {challenge, domain: 'https://wallet.example'}, signingLoader);
  refused.wrongDomain = await post(started.exchange, {verifiablePresentation: wrongDomain});
  const other = await makeHolder();
  const tampered = await didAuthentication(holder, {challenge, domain}, signingLoader);
  tampered.holder = other.did;
  refused.invalidSignature = await post(started.exchange, {verifiablePresentation: tampered});
  out.refused = Object.fromEntries(
    Object.entries(refused).map(([name, {status, body}]) => [name, {status, error: body.error}]));

  const good = await didAuthentication(holder, {challenge, domain}, signingLoader);
  const received = await post(started.exchange, {verifiablePresentation: good});
  out.received = received;
  const again = await post(started.exchange, {verifiablePresentation: good});
  out.reused = {status: again.status, error: again.body.error};
  const expired = await start(request.expired);
  out.expired = {status: expired.status, error: expired.answer?.error};
  if(received.status !== 200) {
    return out;
  }
  const [credential] = received.body.verifiablePresentation.verifiableCredential;

  const dbVerify = () => verify(
    {credential, documentLoader: verifyingLoader, bitstringStatus: true});
  out.before = {
    digitalBazaar: await dbVerify(),
    merkki: await merkkiVerdict(request.merkkiVerify, credential)
  };
  const revoked = await fetch(request.revoke.url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${request.revoke.token}`
    },
    body: JSON.stringify({reason: 'issued to the wrong person'})
  });
  out.revokeStatus = revoked.status;
  out.after = {
    digitalBazaar: await dbVerify(),
    merkki: await merkkiVerdict(request.merkkiVerify, credential)
  };
  return out;
}

main().then(
  answer => process.stdout.write(JSON.stringify(answer)),
  error => {
    process.stdout.write(JSON.stringify({error: describe(error)}));
    process.exitCode = 1;
  });

// wallet.mjs: an OpenID4VCI 1.0 wallet, built on the OpenWallet Foundation's @openid4vc
// libraries, that takes Merkki's pre-authorized credential offers (run by
// tests/interop/test_oid4vci_wallet.py).
//
// Protocol: one JSON request on stdin, one JSON answer on stdout:
//   {"scenarios": [{
//      "name": str,
//      "offer": "openid-credential-offer://?credential_offer_uri=..." (or credential_offer=...),
//      "reuseOfferFrom"?: name   use that scenario's resolved offer instead of "offer" (a
//                                wallet replaying a pre-authorized code it already traded),
//      "txCode"?: str,           the transaction code (PIN) the learner types in
//      "key": {"privateJwk": JWK, "did": "did:key:...", "alg": "EdDSA"|"ES256",
//              "binding": "kid"|"jwk"},
//      "nonce"?: str,            sign over this c_nonce instead of a fresh one
//      "reuseNonceFrom"?: name,  sign over the c_nonce that scenario used
//      "audience"?: str          sign the proof for this audience instead of the issuer
//   }, ...]}
//   -> {"results": [{"name", "ok": bool, "stage": "offer"|"token"|"nonce"|"credential"|"done",
//        "credential"?: {...}, "nonce"?: str, "tokenResponse"?: {...},
//        "error"?: {"status"?: int, "error"?: str, "message": str}}]}
// Scenarios run in order, each to its end or its first refusal. Nothing but the URLs in the
// offers (loopback, plain http: allowInsecureUrls) is ever contacted.
import {createHash, randomBytes} from 'node:crypto';
import {
  Openid4vciClient,
  Openid4vciRetrieveCredentialsError,
  setGlobalConfig
} from '@openid4vc/openid4vci';
import {Oauth2ClientErrorResponseError, clientAuthenticationAnonymous} from '@openid4vc/oauth2';
import * as jose from 'jose';

setGlobalConfig({allowInsecureUrls: true});

const CONFIGURATION_ID = 'OpenBadgeCredential_ldp_vc';

function publicJwk(privateJwk) {
  const {d, ...rest} = privateJwk;
  return rest;
}

async function signCompact(privateJwk, alg, header, payload) {
  const key = await jose.importJWK(privateJwk, alg);
  const bytes = new TextEncoder().encode(JSON.stringify(payload));
  return new jose.CompactSign(bytes).setProtectedHeader(header).sign(key);
}

function clientFor(key) {
  return new Openid4vciClient({
    callbacks: {
      fetch: globalThis.fetch,
      generateRandom: bytes => randomBytes(bytes),
      hash: (data, alg) => createHash(alg.replace('-', '').toLowerCase()).update(data).digest(),
      clientAuthentication: clientAuthenticationAnonymous(),
      signJwt: async (signer, {header, payload}) => ({
        jwt: await signCompact(key.privateJwk, signer.alg, header, payload),
        signerJwk: publicJwk(key.privateJwk)
      })
    }
  });
}

function signerFor(key) {
  if (key.binding === 'jwk') {
    return {method: 'jwk', alg: key.alg, publicJwk: publicJwk(key.privateJwk)};
  }
  const fragment = key.did.slice('did:key:'.length);
  return {method: 'did', alg: key.alg, didUrl: `${key.did}#${fragment}`};
}

// A proof signed by hand, for the audiences no conforming wallet library would write.
async function handMadeProof(key, audience, nonce) {
  const signer = signerFor(key);
  const header = {alg: key.alg, typ: 'openid4vci-proof+jwt'};
  if (signer.method === 'jwk') header.jwk = signer.publicJwk;
  else header.kid = signer.didUrl;
  const payload = {aud: audience, iat: Math.floor(Date.now() / 1000), nonce};
  return signCompact(key.privateJwk, key.alg, header, payload);
}

function describe(error) {
  if (error instanceof Oauth2ClientErrorResponseError) {
    return {
      status: error.response?.status,
      error: error.errorResponse?.error,
      message: error.message
    };
  }
  if (error instanceof Openid4vciRetrieveCredentialsError) {
    const body = error.response?.credentialErrorResponseResult?.data;
    return {
      status: error.response?.response?.status,
      error: body?.error,
      message: error.message
    };
  }
  return {message: `${error?.name}: ${error?.message}`};
}

async function run(scenario, done) {
  const result = {name: scenario.name, ok: false, stage: 'offer'};
  const client = clientFor(scenario.key);
  try {
    const earlier = scenario.reuseOfferFrom && done.get(scenario.reuseOfferFrom);
    const credentialOffer = earlier
      ? earlier.credentialOffer
      : await client.resolveCredentialOffer(scenario.offer);
    result.offerObject = credentialOffer;
    const issuerMetadata = await client.resolveIssuerMetadata(credentialOffer.credential_issuer);
    result.stage = 'token';
    const {accessTokenResponse} = await client.retrievePreAuthorizedCodeAccessTokenFromOffer({
      credentialOffer,
      issuerMetadata,
      txCode: scenario.txCode
    });
    result.tokenResponse = accessTokenResponse;
    result.stage = 'nonce';
    let nonce = scenario.nonce;
    if (scenario.reuseNonceFrom) nonce = done.get(scenario.reuseNonceFrom).nonce;
    if (!nonce) nonce = (await client.requestNonce({issuerMetadata})).c_nonce;
    result.nonce = nonce;
    result.stage = 'credential';
    const proof = scenario.audience
      ? await handMadeProof(scenario.key, scenario.audience, nonce)
      : (
          await client.createCredentialRequestJwtProof({
            issuerMetadata,
            credentialConfigurationId: CONFIGURATION_ID,
            signer: signerFor(scenario.key),
            nonce
          })
        ).jwt;
    const response = await client.retrieveCredentials({
      issuerMetadata,
      accessToken: accessTokenResponse.access_token,
      credentialConfigurationId: CONFIGURATION_ID,
      proofs: {jwt: [proof]}
    });
    const credentials = response.credentialResponse.credentials ?? [];
    result.credential = credentials[0]?.credential;
    result.count = credentials.length;
    result.stage = 'done';
    result.ok = true;
    done.set(scenario.name, {credentialOffer, nonce});
  } catch (error) {
    result.error = describe(error);
    done.set(scenario.name, {credentialOffer: result.offerObject, nonce: result.nonce});
  }
  delete result.offerObject;
  return result;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const request = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const done = new Map();
  const results = [];
  for (const scenario of request.scenarios) results.push(await run(scenario, done));
  process.stdout.write(JSON.stringify({results}));
}

main().catch(error => {
  process.stdout.write(JSON.stringify({error: {name: error?.name, message: error?.message}}));
  process.exitCode = 1;
});

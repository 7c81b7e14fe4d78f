import { status } from '@grpc/grpc-js';
import t from 'tap';
import { adminClient, refusal } from '../support/admin-client.js';
import { api, makeCast, seed, startTestServer } from '../support/rest-server.js';

/**
 * Onboarding with RIDER_REVIEW on (the production default): a rider registered
 * through the seed's REST call is pending and cannot go online until an
 * admin approves it through the admin service; a rejection carries its reason.
 */

const ts = await startTestServer(t, { label: 'onboard', env: { RIDER_REVIEW: 'true' } });
const cast = await makeCast(ts.auth);
const client = adminClient(ts.server.admin!.port);
t.teardown(() => client.close());
const admin = cast.admin.token;
const riderId = cast.rider.riderId;

t.test('pending, rejected with a reason, sent again, approved, online', async (t) => {
  const reg = await api(ts.url, 'POST', '/delivery-persons', { token: cast.rider.token, body: seed.deliveryPerson });
  t.equal(reg.status, 201, JSON.stringify(reg.body));
  const online = () =>
    api(ts.url, 'PUT', '/delivery-persons/status', { token: cast.rider.token, body: { status: 'online' } });
  const refused = await online();
  t.equal(refused.status, 409);
  t.match(JSON.stringify(refused.body), /RIDER_NOT_APPROVED/);
  t.match(await client.call('GetRider', { rider_id: riderId }, admin), { review_status: 'pending', state: 'offline' });

  t.match(await refusal(client.call('ReviewRider', { rider_id: riderId, approve: false }, admin)), {
    code: status.INVALID_ARGUMENT,
  });
  t.match(
    await client.call(
      'ReviewRider',
      { rider_id: riderId, approve: false, reason: 'insurance document unreadable' },
      admin,
    ),
    { review_status: 'rejected', review_reason: 'insurance document unreadable' },
  );
  t.match(JSON.stringify((await online()).body), /insurance document unreadable/, 'the rider is told why');

  // Documents sent again over REST: the rider waits for another review.
  const badDocs = await api(ts.url, 'PUT', '/delivery-persons/documents', {
    token: cast.rider.token,
    body: { documents: {} },
  });
  t.equal(badDocs.status, 400, 'at least one document');
  const again = await api(ts.url, 'PUT', '/delivery-persons/documents', {
    token: cast.rider.token,
    body: { documents: { insurance: 'https://docs.example/insurance-2.pdf' } },
  });
  t.equal(again.status, 200, JSON.stringify(again.body));
  t.match(again.body, {
    id: riderId,
    review: { status: 'pending' },
    documents: { insurance: 'pending_verification' },
  });
  t.match(await client.call('GetRider', { rider_id: riderId }, admin), { review_status: 'pending' });
  const notRider = await api(ts.url, 'PUT', '/delivery-persons/documents', {
    token: cast.customer.token,
    body: { documents: { insurance: 'https://docs.example/x.pdf' } },
  });
  t.equal(notRider.status, 403, 'only a rider sends its own documents');
  t.match(await client.call('ReviewRider', { rider_id: riderId, approve: true }, admin), { review_status: 'approved' });
  const ok = await online();
  t.equal(ok.status, 200, JSON.stringify(ok.body));
  t.match(ok.body, { status: 'online.idle' });
  t.match(await refusal(client.call('ReviewRider', { rider_id: riderId, approve: true }, admin)), {
    code: status.FAILED_PRECONDITION,
    errorCode: 'RIDER_INVALID_TRANSITION',
  });
});

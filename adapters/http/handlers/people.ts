/**
 * `/users/profile` and `/delivery-persons`: the caller's own profile, rider
 * registration (bank details encrypted at rest, never echoed), and the REST
 * fallbacks of the rider stream (location, status).
 */
import { PositionStatus, type RiderId, reject, type Rejection } from '../../../protocol/index.js';
import type {
  CreateDeliveryPersonBody,
  ProfileBody,
  RiderLocationBody,
  UpdateRiderStatusBody,
  RiderDocumentsBody,
} from '../../../protocol/rest/schemas.js';
import type { Reply } from '../http-io.js';
import type { RestContext } from '../rest-gateway.js';
import { type GatewayDeps, iso, mayAct, must, refusing } from '../gateway-deps.js';

const POSITION_REFUSAL: Readonly<Record<number, Rejection>> = {
  [PositionStatus.UNKNOWN_RIDER]: reject('RIDER_NOT_FOUND', 'register with POST /delivery-persons first'),
  [PositionStatus.INVALID]: reject('POSITION_INVALID', 'the position has out-of-range values'),
  [PositionStatus.OUT_OF_ORDER]: reject('POSITION_OUT_OF_ORDER', 'a newer position was already applied'),
  [PositionStatus.FUTURE]: reject(
    'POSITION_INVALID',
    'timestamp is ahead of the server clock by more than the allowed skew',
  ),
};

export function peopleHandlers(d: GatewayDeps) {
  const { engine, catalog } = d;

  const profileJson = async (ctx: RestContext): Promise<Record<string, unknown>> => {
    const p = ctx.principal;
    const u = await catalog.getUser(p.uid);
    return {
      id: p.uid,
      email: p.email,
      role: p.role,
      name: u?.display_name ?? null,
      phone: u?.phone ?? p.phone,
      address: u?.address ?? null,
      preferences: u?.preferences ?? { cuisine_types: [], dietary_restrictions: [] },
      email_verified: true,
      phone_verified: true,
      ...(p.restaurantId ? { restaurant_id: p.restaurantId } : {}),
      ...(p.riderId ? { delivery_person_id: p.riderId } : {}),
      created_at: u ? iso(u.created_at) : null,
      updated_at: u ? iso(u.updated_at) : null,
    };
  };

  const riderOf = (
    ctx: RestContext,
    action: 'rider.location.update' | 'rider.status.update' | 'rider.documents.update',
  ): RiderId | Rejection => {
    const p = ctx.principal;
    const denied = mayAct(p, action, p.riderId ? { riderId: p.riderId } : {}, 'RIDER_NOT_FOUND', 'rider');
    return denied ?? p.riderId!;
  };

  return {
    async getProfile(ctx: RestContext): Promise<Reply | Rejection> {
      const denied = mayAct(ctx.principal, 'profile.read', { uid: ctx.principal.uid }, 'PROFILE_NOT_FOUND', 'profile');
      return denied ?? { status: 200, body: await profileJson(ctx) };
    },

    async putProfile(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const denied = mayAct(p, 'profile.write', { uid: p.uid }, 'PROFILE_NOT_FOUND', 'profile');
      if (denied) return denied;
      const b = ctx.body as ProfileBody;
      await catalog.transaction('update profile', async (tx) => {
        await catalog.ensureUser(tx, p);
        await catalog.updateProfile(tx, p.uid, {
          name: b.name,
          phone: b.phone,
          address: b.address,
          preferences: b.preferences,
        });
      });
      return { status: 200, body: await profileJson(ctx) };
    },

    async createDeliveryPerson(ctx: RestContext): Promise<Reply | Rejection> {
      const p = ctx.principal;
      const b = ctx.body as CreateDeliveryPersonBody;
      const id = p.role === 'rider' ? p.riderId! : (d.newId() as RiderId);
      const denied = mayAct(p, 'rider.register', { riderId: id }, 'RIDER_NOT_FOUND', 'rider');
      if (denied) return denied;
      if (b.bank_details && !d.cipher) {
        return reject('DEPENDENCY_UNAVAILABLE', 'bank details cannot be stored: the server has no ENCRYPTION_KEY');
      }
      // The row id is the encryption context: a ciphertext copied onto another rider does not decrypt.
      const bank = b.bank_details && d.cipher ? d.cipher.encrypt(JSON.stringify(b.bank_details), `riders/${id}`) : null;
      return refusing(() =>
        catalog.transaction('register rider', async (tx) => {
          if (p.role === 'rider') await catalog.ensureUser(tx, p);
          const inserted = await catalog.insertRider(tx, {
            id,
            user_id: p.role === 'rider' ? p.uid : null,
            name: b.name ?? p.email,
            phone: p.role === 'rider' ? p.phone : null,
            vehicle: b.vehicle_type,
            license_number: b.license_number,
            documents: b.documents ?? {},
            bank_details_enc: bank,
          });
          if (!inserted) return reject('RIDER_EXISTS', `delivery person ${id} is already registered`);
          const registered = await d.commands.registerRider({
            riderId: id,
            vehicle: b.vehicle_type,
            ...(b.capacity === undefined ? {} : { capacity: b.capacity }),
          });
          if (!registered.ok && registered.code !== 'RIDER_EXISTS') must(registered);
          await d.durable();
          const acct = b.bank_details?.account_number;
          const reply: Reply = {
            status: 201,
            body: {
              id,
              status: must(engine.getRider(id)).state,
              name: b.name ?? null,
              vehicle_type: b.vehicle_type,
              capacity: b.capacity ?? 1,
              license_number: b.license_number,
              documents: Object.fromEntries(Object.keys(b.documents ?? {}).map((k) => [k, 'pending_verification'])),
              ...(b.bank_details && acct
                ? {
                    bank_details: {
                      account_number: `${'*'.repeat(Math.max(0, acct.length - 4))}${acct.slice(-4)}`,
                      ifsc_code: b.bank_details.ifsc_code,
                      account_holder_name: b.bank_details.account_holder_name,
                    },
                  }
                : {}),
              created_at: iso(d.clock.now()),
            },
            headers: { location: `/delivery-persons/${id}` },
          };
          await ctx.remember(tx, reply);
          return reply;
        }),
      );
    },

    /** A rejected rider's documents sent again: the row is updated and the rider waits for another review. */
    async putRiderDocuments(ctx: RestContext): Promise<Reply | Rejection> {
      const id = riderOf(ctx, 'rider.documents.update');
      if (typeof id !== 'string') return id;
      const b = ctx.body as RiderDocumentsBody;
      const documents = Object.fromEntries(
        Object.entries(b.documents).filter((e): e is [string, string] => typeof e[1] === 'string'),
      );
      return refusing(() =>
        catalog.transaction('resubmit rider documents', async (tx) => {
          if (!(await catalog.resubmitRiderDocuments(tx, id, documents, b.license_number)))
            return reject('RIDER_NOT_FOUND', 'register with POST /delivery-persons first');
          const out = await d.commands.execute({ type: 'submit_rider_documents', riderId: id });
          if (out.queued) return reject('INTERNAL', 'the engine queued a REST command');
          if (!out.result.ok) return out.result;
          await d.durable();
          const v = must(engine.getRider(id));
          return {
            status: 200,
            body: {
              id,
              status: v.state,
              review: v.review,
              documents: Object.fromEntries(Object.keys(documents).map((k) => [k, 'pending_verification'])),
            },
          };
        }),
      );
    },

    async putRiderLocation(ctx: RestContext): Promise<Reply | Rejection> {
      const id = riderOf(ctx, 'rider.location.update');
      if (typeof id !== 'string') return id;
      const b = ctx.body as RiderLocationBody;
      const at = b.timestamp ? Date.parse(b.timestamp) : d.clock.now();
      const status = await d.commands.updateRiderPosition(
        id,
        b.latitude,
        b.longitude,
        b.accuracy ?? 0,
        b.heading ?? NaN,
        b.speed ?? NaN,
        at,
      );
      const refusal = POSITION_REFUSAL[status];
      if (refusal) return refusal;
      // STALE is kept for the trail, not for matching: still a success for the client.
      return {
        status: 200,
        body: { status: status === PositionStatus.STALE ? 'stale' : 'accepted', received_at: iso(d.clock.now()) },
      };
    },

    async putRiderStatus(ctx: RestContext): Promise<Reply | Rejection> {
      const id = riderOf(ctx, 'rider.status.update');
      if (typeof id !== 'string') return id;
      const want = (ctx.body as UpdateRiderStatusBody).status;
      const res = await d.commands.setRiderStatus(id, want);
      if (!res.ok) return res;
      await d.durable();
      return { status: 200, body: { id, status: must(engine.getRider(id)).state } };
    },
  };
}

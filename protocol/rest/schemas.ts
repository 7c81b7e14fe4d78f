/**
 * The REST API's request and response shapes, as the seed API documents them
 * (shared/SEED-API.md): snake case, amounts in rupees with two decimals, times
 * in ISO 8601 UTC. One set of TypeBox schemas validates requests at the
 * gateway and produces the OpenAPI 3.1 document (`/openapi.json`).
 *
 * Request bodies refuse unknown fields (`additionalProperties: false`): a
 * client that sends `total_amount` or `status` where the server decides them
 * hears so instead of being silently ignored. Responses may carry more fields
 * than the seed names; they never drop or rename one.
 */
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { VEHICLE_TYPES } from '../vehicle.js';
import { LINE_TEXT, MULTILINE_TEXT } from './text-policy.js';

const closed = { additionalProperties: false } as const;

/** A UUID, or an engine slug (`r-12`, used by the simulator and tests). */
export const Id = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$',
  description: 'A UUID (or an engine slug)',
});
// Not `multipleOf: 0.01`: in binary floating point 280 is not a multiple of 0.01. The gateway checks the decimals.
export const Rupees = Type.Number({ minimum: 0, maximum: 10_000_000, description: 'Rupees, at most two decimals' });
export const IsoTime = Type.String({ format: 'date-time' });
/** One line of text (text-policy.ts): at least one character. */
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max, pattern: LINE_TEXT });
/** Prose that may span lines (text-policy.ts), possibly empty. */
const Prose = (max: number) => Type.String({ maxLength: max, pattern: MULTILINE_TEXT });
/** The largest value of a Postgres `integer` column: every whole number the API stores fits it. */
export const INT4_MAX = 2_147_483_647;

export const Latitude = Type.Number({ minimum: -90, maximum: 90 });
export const Longitude = Type.Number({ minimum: -180, maximum: 180 });

/** A postal address with its coordinates (deliveries and restaurants need them). */
export const LocatedAddress = Type.Object(
  {
    street: Text(200),
    city: Text(100),
    state: Type.Optional(Text(100)),
    postal_code: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9 -]{3,12}$' })),
    country: Type.Optional(Text(100)),
    latitude: Latitude,
    longitude: Longitude,
  },
  closed,
);

/** A profile address: coordinates optional. */
export const Address = Type.Object(
  {
    street: Type.Optional(Text(200)),
    city: Type.Optional(Text(100)),
    state: Type.Optional(Text(100)),
    postal_code: Type.Optional(Type.String({ pattern: '^[A-Za-z0-9 -]{3,12}$' })),
    country: Type.Optional(Text(100)),
    latitude: Type.Optional(Latitude),
    longitude: Type.Optional(Longitude),
  },
  closed,
);

/** A UPI virtual payment address, `name@handle`. */
export const Vpa = Type.String({
  pattern: '^[A-Za-z0-9._-]{2,256}@[A-Za-z][A-Za-z0-9]{1,63}$',
  description: 'UPI VPA, e.g. user@paytm',
});

/**
 * How the customer pays. `UPI` waits for the payment to be confirmed;
 * `CASH` (cash on delivery) lets the restaurant see the order at once.
 */
export const PaymentMethod = Type.Union([
  Type.Object({ type: Type.Literal('UPI'), vpa: Vpa }, closed),
  Type.Object({ type: Type.Literal('CASH') }, closed),
]);

export const OrderItemInput = Type.Object(
  {
    menu_item_id: Id,
    quantity: Type.Integer({ minimum: 1, maximum: 50 }),
    special_instructions: Type.Optional(Prose(200)),
  },
  closed,
);

export const CreateOrder = Type.Object(
  {
    restaurant_id: Id,
    items: Type.Array(OrderItemInput, { minItems: 1, maxItems: 50 }),
    delivery_address: LocatedAddress,
    payment_method: PaymentMethod,
  },
  closed,
);

/** Statuses a client may set; who may set which is the order's business (docs/rest.md). */
export const SettableStatus = Type.Union(
  ['confirmed', 'preparing', 'ready', 'picked_up', 'in_transit', 'delivered', 'cancelled'].map((s) => Type.Literal(s)),
);
export const UpdateOrderStatus = Type.Object(
  {
    status: SettableStatus,
    estimated_preparation_time: Type.Optional(Type.Integer({ minimum: 0, maximum: 240, description: 'Minutes' })),
    reason: Type.Optional(Prose(200)),
  },
  closed,
);

export const ListOrdersQuery = Type.Object(
  {
    status: Type.Optional(Type.String({ pattern: '^[a-z_]+(,[a-z_]+)*$' })),
    restaurant_id: Type.Optional(Id),
    from: Type.Optional(IsoTime),
    to: Type.Optional(IsoTime),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
    offset: Type.Optional(Type.Integer({ minimum: 0, maximum: 100_000 })),
  },
  closed,
);

/** FCM registration tokens are long opaque strings of URL-safe characters and `:`. */
const PushTokenString = Type.String({ minLength: 1, maxLength: 4096, pattern: '^[A-Za-z0-9_:.\\-]+$' });

export const RegisterPushToken = Type.Object(
  {
    token: PushTokenString,
    platform: Type.Union([Type.Literal('android'), Type.Literal('ios'), Type.Literal('web')]),
    app_version: Type.Optional(Type.String({ minLength: 1, maxLength: 40 })),
  },
  closed,
);
export type RegisterPushTokenBody = Static<typeof RegisterPushToken>;

export const PushTokenOut = Type.Object({
  token: Type.String(),
  platform: Type.String(),
  app_version: Type.Union([Type.String(), Type.Null()]),
});
export const PushTokenList = Type.Object({ tokens: Type.Array(PushTokenOut) });

export const NotificationsQuery = Type.Object(
  {
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  closed,
);

export const NotificationOut = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  order_id: Type.Union([Type.String(), Type.Null()]),
  title: Type.String(),
  body: Type.String(),
  data: Type.Record(Type.String(), Type.String()),
  created_at: Type.String(),
  cursor: Type.Integer(),
});
export const NotificationList = Type.Object({ notifications: Type.Array(NotificationOut), next_since: Type.Integer() });

const ChatChannel = Type.Union([Type.Literal('rider'), Type.Literal('restaurant')]);
// Text itself is checked by engine/chat-rules.ts (length in characters, no control characters).
export const PostChat = Type.Object(
  {
    channel: ChatChannel,
    body: Type.String({ minLength: 1, maxLength: 4000 }),
    client_msg_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
  },
  closed,
);
export type PostChatBody = Static<typeof PostChat>;
export const ChatQuery = Type.Object(
  {
    channel: ChatChannel,
    since: Type.Optional(Type.Integer({ minimum: 0 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
  },
  closed,
);
export const ChatMessageOut = Type.Object({
  id: Type.Integer(),
  order_id: Type.String(),
  channel: Type.String(),
  sender_id: Type.String(),
  sender_role: Type.String(),
  body: Type.String(),
  client_msg_id: Type.Union([Type.String(), Type.Null()]),
  sent_at: Type.String(),
});
export const ChatHistory = Type.Object({ messages: Type.Array(ChatMessageOut) });

export const CreatePayment = Type.Object(
  {
    order_id: Id,
    payment_method: Type.Object({ type: Type.Literal('UPI'), vpa: Vpa }, closed),
    amount: Rupees,
  },
  closed,
);

export const Profile = Type.Object(
  {
    name: Type.Optional(Text(100)),
    phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9][0-9 -]{6,18}$' })),
    address: Type.Optional(Address),
    preferences: Type.Optional(
      Type.Object(
        {
          cuisine_types: Type.Optional(Type.Array(Text(50), { maxItems: 30 })),
          dietary_restrictions: Type.Optional(Type.Array(Text(50), { maxItems: 30 })),
        },
        closed,
      ),
    ),
  },
  closed,
);

const HhMm = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$' });
const Day = Type.Object({ open: HhMm, close: HhMm }, closed);
export const WEEKDAYS = ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday'] as const;

export const CreateRestaurant = Type.Object(
  {
    name: Text(120),
    description: Type.Optional(Prose(1000)),
    address: LocatedAddress,
    cuisine_types: Type.Optional(Type.Array(Text(50), { maxItems: 20 })),
    operating_hours: Type.Optional(
      Type.Partial(Type.Object(Object.fromEntries(WEEKDAYS.map((d) => [d, Day])), closed)),
    ),
    contact: Type.Optional(
      Type.Object(
        {
          phone: Type.Optional(Type.String({ pattern: '^\\+?[0-9][0-9 -]{6,18}$' })),
          email: Type.Optional(Type.String({ format: 'email', maxLength: 254, pattern: LINE_TEXT })),
        },
        closed,
      ),
    ),
    preparation_time: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 240, description: 'Typical minutes to cook an order (default 15)' }),
    ),
    capacity: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1000, description: 'Orders cooked at once (default 20)' }),
    ),
  },
  closed,
);

export const UpdateRestaurantStatus = Type.Object(
  {
    status: Type.Union([Type.Literal('open'), Type.Literal('busy'), Type.Literal('closed')]),
  },
  closed,
);

export const MenuItemInput = Type.Object(
  {
    id: Type.Optional(Id),
    name: Text(120),
    description: Type.Optional(Prose(1000)),
    price: Rupees,
    image_url: Type.Optional(Type.String({ format: 'uri', maxLength: 2000, pattern: LINE_TEXT })),
    available: Type.Optional(Type.Boolean()),
    preparation_time: Type.Optional(Type.Integer({ minimum: 0, maximum: 240 })),
    dietary_info: Type.Optional(Type.Array(Text(50), { maxItems: 20 })),
  },
  closed,
);

export const PutMenu = Type.Object(
  {
    categories: Type.Array(
      Type.Object(
        {
          name: Text(100),
          items: Type.Array(MenuItemInput, { maxItems: 500 }),
        },
        closed,
      ),
      { maxItems: 100 },
    ),
  },
  closed,
);

export const NearbyQuery = Type.Object(
  {
    latitude: Latitude,
    longitude: Longitude,
    radius_km: Type.Optional(Type.Number({ exclusiveMinimum: 0, maximum: 50 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
  },
  closed,
);

const DocUrl = Text(2000);
export const CreateDeliveryPerson = Type.Object(
  {
    name: Type.Optional(Text(100)),
    vehicle_type: Type.Union(VEHICLE_TYPES.map((v) => Type.Literal(v))),
    license_number: Type.String({ pattern: '^[A-Z0-9 -]{4,20}$' }),
    /** Orders the rider can carry at once (a bigger bag): above 1, dispatch may stack orders on its route. */
    capacity: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
    documents: Type.Optional(
      Type.Object(
        {
          driving_license: Type.Optional(DocUrl),
          vehicle_registration: Type.Optional(DocUrl),
          insurance: Type.Optional(DocUrl),
        },
        closed,
      ),
    ),
    bank_details: Type.Optional(
      Type.Object(
        {
          account_number: Type.String({ pattern: '^[0-9]{9,18}$' }),
          ifsc_code: Type.String({ pattern: '^[A-Z]{4}0[A-Z0-9]{6}$' }),
          account_holder_name: Text(100),
        },
        closed,
      ),
    ),
  },
  closed,
);

export const RiderLocation = Type.Object(
  {
    latitude: Latitude,
    longitude: Longitude,
    accuracy: Type.Optional(Type.Number({ minimum: 0, maximum: 10_000, description: 'Metres' })),
    heading: Type.Optional(
      Type.Number({ minimum: 0, exclusiveMaximum: 360, description: 'Degrees clockwise from north, [0, 360)' }),
    ),
    speed: Type.Optional(Type.Number({ minimum: 0, maximum: 100, description: 'm/s' })),
    timestamp: Type.Optional(IsoTime),
  },
  closed,
);

export const UpdateRiderStatus = Type.Object(
  {
    status: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('break')]),
  },
  closed,
);

/**
 * A payment gateway's webhook (Razorpay's shape: `event`, `payload.payment.entity`). Open
 * objects: gateways add fields, and a webhook must not be refused for one. Our reference (the
 * UPI `tr`) travels in `notes.transaction_id`; the event id in the `X-Razorpay-Event-Id` header.
 */
export const PaymentWebhook = Type.Object(
  {
    event: Text(100),
    payload: Type.Object(
      {
        payment: Type.Object(
          {
            entity: Type.Object(
              {
                id: Text(100),
                amount: Type.Integer({ minimum: 0, maximum: INT4_MAX, description: 'Paise' }),
                currency: Text(10),
                status: Text(50),
                notes: Type.Object({ transaction_id: Text(35) }, { additionalProperties: true }),
              },
              { additionalProperties: true },
            ),
          },
          { additionalProperties: true },
        ),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

/** A refund event (`refund.processed`, `refund.failed`): the refund entity, our id in its notes. */
export const RefundWebhook = Type.Object(
  {
    event: Type.String({ minLength: 1, maxLength: 100 }),
    payload: Type.Object(
      {
        refund: Type.Object(
          {
            entity: Type.Object(
              {
                id: Type.String({ minLength: 1, maxLength: 100 }),
                payment_id: Type.String({ minLength: 1, maxLength: 100 }),
                amount: Type.Integer({ minimum: 0, description: 'Paise' }),
                status: Type.String(),
                notes: Type.Object(
                  { refund_id: Type.Optional(Type.String({ maxLength: 100 })) },
                  { additionalProperties: true },
                ),
              },
              { additionalProperties: true },
            ),
          },
          { additionalProperties: true },
        ),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

// ─── Responses (documented; the gateway builds them, it does not validate them) ───

const open = { additionalProperties: true } as const;
const LatLngOut = Type.Object({ latitude: Type.Number(), longitude: Type.Number() });

export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'A code of the error table (protocol/errors.ts)' }),
    detail: Type.String(),
    request_id: Type.String(),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
  },
  { ...open, description: 'RFC 9457 problem details, application/problem+json' },
);

export const Health = Type.Object(
  {
    status: Type.Union([Type.Literal('healthy'), Type.Literal('degraded')]),
    timestamp: IsoTime,
    version: Type.String(),
    services: Type.Object(
      {
        database: Type.String({ description: 'healthy or unhealthy' }),
        redis: Type.String({ description: 'healthy or unhealthy; not_used in embedded mode (no Redis)' }),
        firebase: Type.String({ description: 'healthy or unhealthy' }),
      },
      open,
    ),
    checks: Type.Optional(Type.Record(Type.String(), Type.String(), { description: 'what each probe does, in words' })),
  },
  open,
);

export const OrderCreated = Type.Object(
  {
    id: Id,
    status: Type.String(),
    total_amount: Type.Number(),
    estimated_delivery_time: IsoTime,
    tracking_id: Type.String(),
    payment_status: Type.String(),
  },
  open,
);

/** A refund as orders and payments show it. */
export const RefundOut = Type.Object(
  {
    id: Type.String(),
    status: Type.Union(
      [Type.Literal('requested'), Type.Literal('pending'), Type.Literal('processed'), Type.Literal('failed')],
      {
        description:
          'requested: not yet accepted by the gateway; pending: accepted; processed: the money is back; failed: an operator is on it',
      },
    ),
    amount: Type.Number({ description: 'Rupees' }),
    reason: Type.String(),
    requested_at: IsoTime,
    accepted_at: Type.Union([IsoTime, Type.Null()]),
    settled_at: Type.Union([IsoTime, Type.Null()]),
  },
  open,
);

export const OrderOut = Type.Object(
  {
    id: Id,
    customer_id: Type.String(),
    restaurant_id: Id,
    delivery_person_id: Type.Union([Id, Type.Null()]),
    status: Type.String(),
    items: Type.Array(Type.Object({}, open)),
    total_amount: Type.Number(),
    delivery_address: Type.Object({}, open),
    restaurant_address: Type.Object({}, open),
    created_at: IsoTime,
    estimated_delivery_time: IsoTime,
    tracking: Type.Union([
      Type.Object(
        {
          current_location: Type.Union([LatLngOut, Type.Null()]),
          estimated_arrival: Type.Union([IsoTime, Type.Null()]),
        },
        open,
      ),
      Type.Null(),
    ]),
    rider_payout: Type.Optional(
      Type.Number({
        minimum: 0,
        description: 'What the rider is paid for the job, rupees; only for the assigned rider and admins',
      }),
    ),
    payment_status: Type.Optional(
      Type.String({ description: 'pending, paid, refund_pending, refunded, failed or cash_on_delivery' }),
    ),
    refund: Type.Optional(RefundOut),
  },
  open,
);

export const OrderList = Type.Object(
  {
    orders: Type.Array(OrderOut),
    total: Type.Integer(),
    limit: Type.Integer(),
    offset: Type.Integer(),
  },
  open,
);

export const PaymentOut = Type.Object(
  {
    id: Id,
    status: Type.String({ description: 'processing, completed, failed, expired, refund_pending or refunded' }),
    transaction_id: Type.String(),
    payment_url: Type.String(),
    expires_at: IsoTime,
    refunds: Type.Optional(Type.Array(RefundOut)),
  },
  open,
);

export const RestaurantOut = Type.Object({ id: Id, name: Type.String() }, open);
export const RestaurantList = Type.Object({ restaurants: Type.Array(RestaurantOut) }, open);
export const MenuOut = Type.Object({ restaurant_id: Id, categories: Type.Array(Type.Object({}, open)) }, open);
/** PUT /delivery-persons/documents: the rider's documents sent again (a rejected rider asks for another review). */
export const RiderDocuments = Type.Object(
  {
    documents: Type.Object(
      {
        driving_license: Type.Optional(DocUrl),
        vehicle_registration: Type.Optional(DocUrl),
        insurance: Type.Optional(DocUrl),
      },
      { ...closed, minProperties: 1 },
    ),
    license_number: Type.Optional(Type.String({ pattern: '^[A-Z0-9 -]{4,20}$' })),
  },
  closed,
);
export const DeliveryPersonOut = Type.Object({ id: Id, status: Type.String() }, open);
export const ProfileOut = Type.Object({ id: Type.String(), email: Type.String(), role: Type.String() }, open);
export const Ack = Type.Object({ status: Type.String() }, open);

export type CreateOrderBody = Static<typeof CreateOrder>;
export type UpdateOrderStatusBody = Static<typeof UpdateOrderStatus>;
export type ListOrdersQueryT = Static<typeof ListOrdersQuery>;
export type CreatePaymentBody = Static<typeof CreatePayment>;
export type PaymentWebhookBody = Static<typeof PaymentWebhook>;
export type RefundWebhookBody = Static<typeof RefundWebhook>;
export type ProfileBody = Static<typeof Profile>;
export type CreateRestaurantBody = Static<typeof CreateRestaurant>;
export type UpdateRestaurantStatusBody = Static<typeof UpdateRestaurantStatus>;
export type PutMenuBody = Static<typeof PutMenu>;
export type NearbyQueryT = Static<typeof NearbyQuery>;
export type CreateDeliveryPersonBody = Static<typeof CreateDeliveryPerson>;
export type RiderLocationBody = Static<typeof RiderLocation>;
export type UpdateRiderStatusBody = Static<typeof UpdateRiderStatus>;
export type RiderDocumentsBody = Static<typeof RiderDocuments>;
export type { TSchema };

/**
 * The REST route table: every endpoint of the seed API (and a few the engine
 * needs), with its body and query schemas, its success response and the
 * error codes it may answer. The gateway registers exactly these routes; the
 * OpenAPI document is generated from the same table, so the two cannot drift.
 */
import type { ErrorCode } from '../errors.js';
import * as S from './schemas.js';

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface RouteSpec {
  readonly id: string;
  readonly method: Method;
  /** OpenAPI style: `/orders/{order_id}`. */
  readonly path: string;
  readonly summary: string;
  /** False only for public endpoints (health, the OpenAPI document). */
  readonly auth: boolean;
  readonly body?: S.TSchema;
  readonly query?: S.TSchema;
  readonly status: 200 | 201;
  readonly response: S.TSchema;
  /** Codes beyond the ones every authenticated route may answer (auth, 429, 503, 500). */
  readonly errors: readonly ErrorCode[];
  /** POST routes that honour `Idempotency-Key`. */
  readonly idempotent?: boolean;
}

const input: readonly ErrorCode[] = ['INVALID_ARGUMENT', 'INVALID_JSON', 'UNSUPPORTED_MEDIA_TYPE', 'BODY_TOO_LARGE'];
const idem: readonly ErrorCode[] = ['IDEMPOTENCY_KEY_INVALID', 'IDEMPOTENCY_KEY_REUSED', 'IDEMPOTENCY_IN_FLIGHT'];

export const ROUTES = [
  {
    id: 'health',
    method: 'get',
    path: '/health',
    summary: 'Service health and the state of each dependency',
    auth: false,
    status: 200,
    response: S.Health,
    errors: [],
  },
  {
    id: 'openapi',
    method: 'get',
    path: '/openapi.json',
    summary: 'This API as an OpenAPI 3.1 document',
    auth: false,
    status: 200,
    response: S.Ack,
    errors: [],
  },

  {
    id: 'createOrder',
    method: 'post',
    path: '/orders',
    summary: 'Place an order; the total is computed from the menu',
    auth: true,
    body: S.CreateOrder,
    status: 201,
    response: S.OrderCreated,
    idempotent: true,
    errors: [
      ...input,
      ...idem,
      'RESTAURANT_NOT_FOUND',
      'RESTAURANT_CLOSED',
      'RESTAURANT_BUSY',
      'RESTAURANT_AT_CAPACITY',
      'MENU_ITEM_NOT_FOUND',
      'MENU_ITEM_UNAVAILABLE',
      'OUT_OF_SERVICE_AREA',
    ],
  },
  {
    id: 'listOrders',
    method: 'get',
    path: '/orders',
    summary: 'Orders of the caller (customer, restaurant or rider; all for admins), newest first',
    auth: true,
    query: S.ListOrdersQuery,
    status: 200,
    response: S.OrderList,
    errors: ['INVALID_ARGUMENT'],
  },
  {
    id: 'getOrder',
    method: 'get',
    path: '/orders/{order_id}',
    summary: 'One order with live tracking',
    auth: true,
    status: 200,
    response: S.OrderOut,
    errors: ['ORDER_NOT_FOUND'],
  },
  {
    id: 'updateOrderStatus',
    method: 'put',
    path: '/orders/{order_id}/status',
    summary: 'Move an order on: restaurant confirms, marks ready; rider picks up, delivers; cancel',
    auth: true,
    body: S.UpdateOrderStatus,
    status: 200,
    response: S.OrderOut,
    errors: [...input, 'ORDER_NOT_FOUND', 'ORDER_INVALID_TRANSITION', 'ORDER_CANCEL_NOT_ALLOWED', 'RIDER_NOT_ASSIGNED'],
  },

  {
    id: 'createPayment',
    method: 'post',
    path: '/payments',
    summary: 'Start a UPI payment for an order: an intent link (NPCI linking spec)',
    auth: true,
    body: S.CreatePayment,
    status: 201,
    response: S.PaymentOut,
    idempotent: true,
    errors: [...input, ...idem, 'ORDER_NOT_FOUND', 'PAYMENT_AMOUNT_MISMATCH', 'PAYMENT_NOT_ALLOWED'],
  },
  {
    id: 'paymentWebhook',
    method: 'post',
    path: '/payments/webhook',
    summary:
      'The payment gateway reports a payment captured or failed (HMAC-SHA256 of the raw body in X-Razorpay-Signature)',
    auth: false,
    body: S.PaymentWebhook,
    status: 200,
    response: S.Ack,
    errors: [
      'WEBHOOK_SIGNATURE_INVALID',
      'INVALID_JSON',
      'INVALID_ARGUMENT',
      'BODY_TOO_LARGE',
      'DEPENDENCY_UNAVAILABLE',
    ],
  },
  {
    id: 'getPayment',
    method: 'get',
    path: '/payments/{payment_id}',
    summary: 'A payment and its current state',
    auth: true,
    status: 200,
    response: S.PaymentOut,
    errors: ['PAYMENT_NOT_FOUND'],
  },

  {
    id: 'getProfile',
    method: 'get',
    path: '/users/profile',
    summary: "The caller's profile",
    auth: true,
    status: 200,
    response: S.ProfileOut,
    errors: [],
  },
  {
    id: 'putProfile',
    method: 'put',
    path: '/users/profile',
    summary: "Update the caller's profile (fields given replace stored ones)",
    auth: true,
    body: S.Profile,
    status: 200,
    response: S.ProfileOut,
    errors: input,
  },

  {
    id: 'createRestaurant',
    method: 'post',
    path: '/restaurants',
    summary: "Register the caller's restaurant (admins: any)",
    auth: true,
    body: S.CreateRestaurant,
    status: 201,
    response: S.RestaurantOut,
    idempotent: true,
    errors: [...input, ...idem, 'RESTAURANT_EXISTS'],
  },
  {
    id: 'listRestaurants',
    method: 'get',
    path: '/restaurants',
    summary: 'Restaurants near a point, nearest first',
    auth: true,
    query: S.NearbyQuery,
    status: 200,
    response: S.RestaurantList,
    errors: ['INVALID_ARGUMENT'],
  },
  {
    id: 'getRestaurant',
    method: 'get',
    path: '/restaurants/{restaurant_id}',
    summary: 'One restaurant',
    auth: true,
    status: 200,
    response: S.RestaurantOut,
    errors: ['RESTAURANT_NOT_FOUND'],
  },
  {
    id: 'putRestaurantStatus',
    method: 'put',
    path: '/restaurants/{restaurant_id}/status',
    summary: 'Open, pause (busy) or close the restaurant',
    auth: true,
    body: S.UpdateRestaurantStatus,
    status: 200,
    response: S.RestaurantOut,
    errors: [...input, 'RESTAURANT_NOT_FOUND', 'RESTAURANT_INVALID_TRANSITION'],
  },
  {
    id: 'getMenu',
    method: 'get',
    path: '/restaurants/{restaurant_id}/menu',
    summary: "A restaurant's menu",
    auth: true,
    status: 200,
    response: S.MenuOut,
    errors: ['RESTAURANT_NOT_FOUND'],
  },
  {
    id: 'putMenu',
    method: 'put',
    path: '/restaurants/{restaurant_id}/menu',
    summary: "Replace a restaurant's menu",
    auth: true,
    body: S.PutMenu,
    status: 200,
    response: S.MenuOut,
    errors: [...input, 'RESTAURANT_NOT_FOUND'],
  },

  {
    id: 'createDeliveryPerson',
    method: 'post',
    path: '/delivery-persons',
    summary: 'Register the caller as a rider (admins: any)',
    auth: true,
    body: S.CreateDeliveryPerson,
    status: 201,
    response: S.DeliveryPersonOut,
    idempotent: true,
    errors: [...input, ...idem, 'RIDER_EXISTS'],
  },
  {
    id: 'putRiderLocation',
    method: 'put',
    path: '/delivery-persons/location',
    summary: 'A position fix over REST (apps should stream over /v1/rider)',
    auth: true,
    body: S.RiderLocation,
    status: 200,
    response: S.Ack,
    errors: [...input, 'RIDER_NOT_FOUND', 'POSITION_OUT_OF_ORDER', 'POSITION_INVALID'],
  },
  {
    id: 'putRiderDocuments',
    method: 'put',
    path: '/delivery-persons/documents',
    summary: "The caller's documents sent again: a rejected rider waits for another review",
    auth: true,
    body: S.RiderDocuments,
    status: 200,
    response: S.DeliveryPersonOut,
    errors: [...input, 'RIDER_NOT_FOUND'],
  },
  {
    id: 'putRiderStatus',
    method: 'put',
    path: '/delivery-persons/status',
    summary: 'Go online, take a break, go offline',
    auth: true,
    body: S.UpdateRiderStatus,
    status: 200,
    response: S.DeliveryPersonOut,
    errors: [...input, 'RIDER_NOT_FOUND', 'RIDER_INVALID_TRANSITION', 'RIDER_HAS_ACTIVE_JOB', 'RIDER_NOT_APPROVED'],
  },

  {
    id: 'postChat',
    method: 'post',
    path: '/orders/{order_id}/chat',
    summary: "Write to the order's chat: the customer with its rider (`rider`) or restaurant (`restaurant`)",
    auth: true,
    body: S.PostChat,
    status: 201,
    response: S.ChatMessageOut,
    errors: [...input, 'ORDER_NOT_FOUND', 'CHAT_CLOSED', 'RATE_LIMITED'],
  },
  {
    id: 'getChat',
    method: 'get',
    path: '/orders/{order_id}/chat',
    summary: 'A conversation of the order, oldest first after message `since` (parties; admins for disputes)',
    auth: true,
    query: S.ChatQuery,
    status: 200,
    response: S.ChatHistory,
    errors: ['INVALID_ARGUMENT', 'ORDER_NOT_FOUND', 'CHAT_CLOSED'],
  },
  {
    id: 'registerPushToken',
    method: 'post',
    path: '/push-tokens',
    summary: 'Register this device for pushes (a token registered by another account moves here)',
    auth: true,
    body: S.RegisterPushToken,
    status: 201,
    response: S.PushTokenOut,
    errors: input,
  },
  {
    id: 'listPushTokens',
    method: 'get',
    path: '/push-tokens',
    summary: "The caller's registered devices",
    auth: true,
    status: 200,
    response: S.PushTokenList,
    errors: [],
  },
  {
    id: 'removePushToken',
    method: 'delete',
    path: '/push-tokens/{token}',
    summary: 'Stop pushes to this device',
    auth: true,
    status: 200,
    response: S.Ack,
    errors: ['PUSH_TOKEN_NOT_FOUND'],
  },
  {
    id: 'listNotifications',
    method: 'get',
    path: '/notifications',
    summary: 'What the caller was told (pushes and stream notices), oldest first after `since`',
    auth: true,
    query: S.NotificationsQuery,
    status: 200,
    response: S.NotificationList,
    errors: ['INVALID_ARGUMENT'],
  },
] as const satisfies readonly RouteSpec[];

export type RouteId = (typeof ROUTES)[number]['id'];

/**
 * Every path parameter is an id (schema `Id`); one that cannot be an id names
 * no object, so it is answered with its object's not-found code (docs/rest.md).
 */
export const PATH_PARAMS = {
  order_id: 'ORDER_NOT_FOUND',
  payment_id: 'PAYMENT_NOT_FOUND',
  restaurant_id: 'RESTAURANT_NOT_FOUND',
} as const satisfies Record<string, ErrorCode>;

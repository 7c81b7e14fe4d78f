import { type EngineCommand, type Result, PositionStatus, ok, reject } from '../../protocol/index.js';
import type { EngineCore } from '../core.js';
import { applyPosition } from '../positions.js';
import { drainShard, forceAssign, reassign, setDispatchConfig, setShardPolicy } from './admin.js';
import { fireDeadline } from './deadline.js';
import { awayRider, handOverRider, lendRider, takeOverRider } from './handover.js';
import { acceptOffer, declineOffer, delivered, offerFromCandidates, pickedUp } from './offer.js';
import {
  cancelOrder,
  confirmPayment,
  failPayment,
  foodReady,
  placeOrder,
  restaurantAccept,
  restaurantReject,
} from './order.js';
import { registerRestaurant, setRestaurantStatus } from './restaurant.js';
import {
  registerRider,
  reviewRider,
  submitRiderDocuments,
  riderBreak,
  riderConnected,
  setRiderStatus,
  riderDisconnected,
  riderOffline,
  riderOnline,
  riderReconnected,
  riderResume,
} from './rider.js';

/** Runs one command to its end: the table from each command to the file holding its rules. */
export function runCommand(core: EngineCore, cmd: EngineCommand): Result<unknown> {
  const away = awayRider(core, cmd);
  if (away !== undefined) return away;
  switch (cmd.type) {
    case 'register_restaurant':
      return registerRestaurant(core, cmd);
    case 'set_restaurant_status':
      return setRestaurantStatus(core, cmd.restaurantId, cmd.status);
    case 'register_rider':
      return registerRider(core, cmd);
    case 'rider_online':
      return riderOnline(core, cmd.riderId);
    case 'rider_offline':
      return riderOffline(core, cmd.riderId);
    case 'rider_break':
      return riderBreak(core, cmd.riderId);
    case 'rider_resume':
      return riderResume(core, cmd.riderId);
    case 'set_rider_status':
      return setRiderStatus(core, cmd.riderId, cmd.status);
    case 'rider_connected':
      return riderConnected(core, cmd.riderId);
    case 'rider_disconnected':
      return riderDisconnected(core, cmd.riderId);
    case 'rider_reconnected':
      return riderReconnected(core, cmd.riderId);
    case 'update_rider_position': {
      const r = core.riders.get(cmd.riderId);
      if (r === undefined) return ok(PositionStatus.UNKNOWN_RIDER);
      return ok(applyPosition(core, r, cmd.lat, cmd.lng, cmd.accuracy, cmd.heading, cmd.speed, cmd.at));
    }
    case 'place_order':
      return placeOrder(core, cmd);
    case 'confirm_payment':
      return confirmPayment(core, cmd.orderId);
    case 'fail_payment':
      return failPayment(core, cmd.orderId);
    case 'restaurant_accept':
      return restaurantAccept(core, cmd.orderId, cmd);
    case 'restaurant_reject':
      return restaurantReject(core, cmd.orderId, cmd);
    case 'food_ready':
      return foodReady(core, cmd.orderId, cmd);
    case 'cancel_order':
      return cancelOrder(core, cmd);
    case 'accept_offer':
      return acceptOffer(core, cmd.riderId, cmd.orderId);
    case 'decline_offer':
      return declineOffer(core, cmd.riderId, cmd.orderId);
    case 'picked_up':
      return pickedUp(core, cmd.riderId, cmd.orderId);
    case 'delivered':
      return delivered(core, cmd.riderId, cmd.orderId);
    case 'offer_from_candidates':
      return offerFromCandidates(core, cmd.orderId, cmd.riderIds);
    case 'fire_deadline':
      fireDeadline(core, cmd.kind, cmd.id);
      return ok(null);
    case 'force_assign':
      return forceAssign(core, cmd.orderId, cmd.riderId);
    case 'reassign':
      return reassign(core, cmd.orderId, cmd.riderId);
    case 'drain_shard':
      return drainShard(core, cmd.shard, cmd.drained);
    case 'set_shard_policy':
      return setShardPolicy(core, cmd.shard, cmd.policy);
    case 'review_rider':
      return reviewRider(core, cmd.riderId, cmd.approve, cmd.reason);
    case 'submit_rider_documents':
      return submitRiderDocuments(core, cmd.riderId);
    case 'set_dispatch_config':
      return setDispatchConfig(core, cmd.settings);
    case 'hand_over_rider':
      return handOverRider(core, cmd.riderId, cmd.to);
    case 'take_over_rider':
      return takeOverRider(core, cmd);
    case 'lend_rider':
      return lendRider(core, cmd);
  }
  // Commands may arrive as data from outside the process: an unknown type is a clear rejection.
  return reject('INVALID_ARGUMENT', `unknown command type ${JSON.stringify((cmd as { type?: unknown }).type)}`);
}

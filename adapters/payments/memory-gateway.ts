/**
 * The embedded payment gateway: the sandbox's ledger behind the port, in
 * process, with no HTTP. For tests of what sits above the port and for a
 * development server that wants no sandbox process; it passes the same
 * contract suite as the HTTP adapter.
 */
import type {
  GatewayOrder,
  GatewayPayment,
  GatewayRefund,
  OrderRequest,
  PaymentGateway,
  RefundRequest,
} from '../../engine/ports/payment-gateway.js';
import { SandboxLedger } from './sandbox-ledger.js';

export class MemoryGateway implements PaymentGateway {
  constructor(
    readonly ledger = new SandboxLedger(),
    readonly payee = 'sandbox@razorpay',
  ) {}

  async createOrder(o: OrderRequest): Promise<GatewayOrder> {
    return this.ledger.createOrder(o);
  }

  async createUpiIntent(o: { orderId: string; vpa: string }): Promise<{ paymentId: string; link: string }> {
    return this.ledger.createUpiIntent({ ...o, payee: this.payee });
  }

  async fetchOrder(id: string): Promise<GatewayOrder> {
    return this.ledger.fetchOrder(id);
  }

  async paymentsOfOrder(orderId: string): Promise<GatewayPayment[]> {
    return this.ledger.paymentsOfOrder(orderId);
  }

  async fetchPayment(id: string): Promise<GatewayPayment> {
    return this.ledger.fetchPayment(id);
  }

  async createRefund(r: RefundRequest): Promise<GatewayRefund> {
    return this.ledger.createRefund(r).refund;
  }

  async fetchRefund(paymentId: string, refundId: string): Promise<GatewayRefund> {
    return this.ledger.fetchRefund(paymentId, refundId);
  }
}

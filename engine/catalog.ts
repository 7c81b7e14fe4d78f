/**
 * Menus, prices and opening hours: the rules the REST gateway applies before
 * it places an order. Pure: the caller passes the menu and the time.
 * Amounts are integer paise, so totals never meet floating point.
 */
import { ok, reject, type Result } from '../protocol/index.js';

export interface MenuItem {
  readonly id: string;
  readonly name: string;
  readonly pricePaise: number;
  readonly available: boolean;
}

export interface OrderLine {
  readonly menuItemId: string;
  readonly quantity: number;
  readonly specialInstructions?: string | undefined;
}

export interface PricedLine extends OrderLine {
  readonly name: string;
  readonly unitPaise: number;
  readonly linePaise: number;
}

export interface PricedOrder {
  readonly lines: readonly PricedLine[];
  readonly totalPaise: number;
}

/** Most an order may cost: ₹1,00,000 (a typo guard, not a business limit). */
export const MAX_ORDER_PAISE = 10_000_000;

/**
 * Prices an order from the restaurant's menu. Every line must name an item of
 * this menu that is available; the client's idea of the price is never asked.
 */
export function priceOrder(menu: ReadonlyMap<string, MenuItem>, lines: readonly OrderLine[]): Result<PricedOrder> {
  if (lines.length === 0) return reject('INVALID_ARGUMENT', 'items: an order needs at least one item');
  const priced: PricedLine[] = [];
  let total = 0;
  for (const [i, line] of lines.entries()) {
    if (!(Number.isInteger(line.quantity) && line.quantity >= 1)) {
      return reject('INVALID_ARGUMENT', `items/${i}/quantity must be a positive integer`);
    }
    const item = menu.get(line.menuItemId);
    if (item === undefined)
      return reject(
        'MENU_ITEM_NOT_FOUND',
        `items/${i}/menu_item_id: ${line.menuItemId} is not on this restaurant's menu`,
      );
    if (!item.available) return reject('MENU_ITEM_UNAVAILABLE', `items/${i}: ${item.name} is not available right now`);
    const linePaise = item.pricePaise * line.quantity;
    total += linePaise;
    priced.push({ ...line, name: item.name, unitPaise: item.pricePaise, linePaise });
  }
  if (total > MAX_ORDER_PAISE) return reject('INVALID_ARGUMENT', `the order total exceeds ₹${MAX_ORDER_PAISE / 100}`);
  return ok({ lines: priced, totalPaise: total });
}

/** Rupees with at most two decimals → paise, exactly (450.1 → 45010). */
export function toPaise(rupees: number): number {
  return Math.round(rupees * 100);
}

/** True when `rupees` has at most two decimals (280, 99.5, 450.25; not 0.001). */
export function isWholePaise(rupees: number): boolean {
  return Math.abs(rupees * 100 - Math.round(rupees * 100)) < 1e-6;
}

export const paiseToRupees = (paise: number): number => paise / 100;

export type Weekday = 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';
export type OperatingHours = Partial<Record<Weekday, { readonly open: string; readonly close: string }>>;

const WEEKDAY_OF: Record<string, Weekday> = {
  Mon: 'monday',
  Tue: 'tuesday',
  Wed: 'wednesday',
  Thu: 'thursday',
  Fri: 'friday',
  Sat: 'saturday',
  Sun: 'sunday',
};
const PREVIOUS: Record<Weekday, Weekday> = {
  monday: 'sunday',
  tuesday: 'monday',
  wednesday: 'tuesday',
  thursday: 'wednesday',
  friday: 'thursday',
  saturday: 'friday',
  sunday: 'saturday',
};
const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Cached per time zone: building a formatter costs tens of microseconds. */
const formatters = new Map<string, Intl.DateTimeFormat>();

/**
 * Whether a restaurant with these hours is open at `epochMs` in `timeZone`
 * (IANA, e.g. `Asia/Kolkata`). No hours at all means always open; a day left
 * out means closed that day; `close` before `open` runs past midnight
 * (18:00–02:00), and `open` equal to `close` means all day.
 */
export function isOpenAt(hours: OperatingHours | undefined, epochMs: number, timeZone: string): boolean {
  if (hours === undefined || Object.keys(hours).length === 0) return true;
  let f = formatters.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(epochMs));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const day = WEEKDAY_OF[get('weekday')];
  if (day === undefined) return true;
  const now = Number(get('hour')) * 60 + Number(get('minute'));
  const today = hours[day];
  if (today !== undefined) {
    const o = minutes(today.open);
    const c = minutes(today.close);
    if (o === c) return true;
    if (o < c ? now >= o && now < c : now >= o) return true;
  }
  // Yesterday's hours may run past midnight into today.
  const y = hours[PREVIOUS[day]];
  if (y !== undefined) {
    const o = minutes(y.open);
    const c = minutes(y.close);
    if (c < o && now < c) return true;
  }
  return false;
}

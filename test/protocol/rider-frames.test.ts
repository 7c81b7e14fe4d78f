/**
 * The rider codec byte by byte, then fuzzed: random bytes and mutated valid
 * frames decode to a frame or a coded error, never a throw.
 */
import fc from 'fast-check';
import t from 'tap';
import {
  ErrorCodes,
  Frame,
  OfferEndCode,
  RiderLimits,
  RiderStatusCode,
  StopKind,
  decodeClientFrame,
  decodeServerFrame,
  encodeAck,
  encodeAssigned,
  encodeAuth,
  encodeError,
  encodeOffer,
  encodeOfferEnded,
  encodeOrderCommand,
  encodeOrderUpdate,
  encodePing,
  encodePong,
  encodePosition,
  encodePositionBatch,
  encodeRaw,
  encodeStatus,
  encodeWelcome,
  positionScratch,
  readPositionFrame,
  type OrderId,
  type PositionFix,
} from '../../protocol/index.js';

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const bytes = (h: string): Uint8Array => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const AT = 1767268800000; // 2026-01-01T12:00:00Z
const FIX: PositionFix = { lat: 12.5, lng: 77.25, accuracy: 5, heading: NaN, speed: 3.5, at: AT };

t.test('position frame, byte by byte', async (t) => {
  const b = encodePosition(1, FIX);
  // fixarray(8), type 1, seq 1, float64 12.5, float64 77.25, fixint 5, nil, float64 3.5, float64 time
  t.equal(
    hex(b),
    '98 01 01 cb4029000000000000 cb4053500000000000 05 c0 cb400c000000000000 cb4279b796dd600000'.replace(/\s/g, ''),
  );
  const d = decodeClientFrame(b);
  t.same(d, { ok: true, frame: { type: Frame.POSITION, seq: 1, fix: FIX } });
  const s = positionScratch();
  t.ok(readPositionFrame(b, s), 'the fast path reads it');
  t.same(s, { seq: 1, ...FIX });
});

t.test('the fast path reads every MessagePack number form', async (t) => {
  // seq as uint16 (cd 012c = 300), lat as float32, lng as int8 (-3), accuracy uint8 200, heading int16 300? no: fixint 90,
  // speed uint32 7, time uint64.
  const f32 = Buffer.alloc(4);
  f32.writeFloatBE(12.5);
  const u64 = Buffer.alloc(8);
  u64.writeBigUInt64BE(BigInt(AT));
  const b = bytes(`98 01 cd012c ca${f32.toString('hex')} d0fd cc c8 5a ce00000007 cf${u64.toString('hex')}`);
  const s = positionScratch();
  t.ok(readPositionFrame(b, s));
  t.same(s, { seq: 300, lat: 12.5, lng: -3, accuracy: 200, heading: 90, speed: 7, at: AT });
  t.same(decodeClientFrame(b), {
    ok: true,
    frame: { type: 1, seq: 300, fix: { lat: 12.5, lng: -3, accuracy: 200, heading: 90, speed: 7, at: AT } },
  });
});

t.test('the fast path refuses what the general decoder explains', async (t) => {
  const s = positionScratch();
  const cases: [unknown[], RegExp][] = [
    [[1, 1, 91, 0, 5, null, null, AT], /lat/],
    [[1, 1, 0, 181, 5, null, null, AT], /lng/],
    [[1, 1, 0, 0, -1, null, null, AT], /accuracy/],
    [[1, 1, 0, 0, 5, 360, null, AT], /heading/],
    [[1, 1, 0, 0, 5, null, -2, AT], /speed/],
    [[1, 1, 0, 0, 5, null, null, 1.5], /time/],
    [[1, 1, 0, 0, null, null, null, AT], /numbers/],
    [[1, 1, 0, 0, 5, 'n', null, AT], /nil/],
    [[1, -1, 0, 0, 5, null, null, AT], /seq/],
    [[1, 1, 0, 0, 5, null, null], /8 elements/],
  ];
  for (const [arr, why] of cases) {
    const b = encodeRaw(arr);
    t.notOk(readPositionFrame(b, s), `fast path refuses ${JSON.stringify(arr)}`);
    const d = decodeClientFrame(b);
    t.match(d, { ok: false, code: 'FRAME_INVALID', detail: why }, JSON.stringify(arr));
  }
});

t.test('every rider → server frame round-trips', async (t) => {
  const fixes = [FIX, { ...FIX, heading: 45, speed: NaN, at: AT + 1000 }];
  t.same(decodeClientFrame(encodePositionBatch(4, fixes)), {
    ok: true,
    frame: { type: Frame.POSITION_BATCH, seq: 4, fixes },
  });
  t.equal(hex(encodeStatus(2, RiderStatusCode.ONLINE)), '93030201');
  t.same(decodeClientFrame(encodeStatus(2, RiderStatusCode.BREAK)), {
    ok: true,
    frame: { type: Frame.STATUS, seq: 2, status: 2 },
  });
  for (const type of [Frame.ACCEPT, Frame.DECLINE, Frame.PICKED_UP, Frame.DELIVERED] as const) {
    t.same(decodeClientFrame(encodeOrderCommand(type, 9, 'order-1')), {
      ok: true,
      frame: { type, seq: 9, orderId: 'order-1' },
    });
  }
  t.equal(hex(encodeOrderCommand(Frame.ACCEPT, 9, 'o1')), '930409a26f31');
  t.same(decodeClientFrame(encodePing(123)), { ok: true, frame: { type: Frame.PING, seq: 0, clientTime: 123 } });
  t.same(decodeClientFrame(encodeAuth('tok')), { ok: true, frame: { type: Frame.AUTH, seq: 0, token: 'tok' } });
});

t.test('every server → rider frame, bytes and round trip', async (t) => {
  t.equal(hex(encodeAck(5)), '921505');
  t.equal(hex(encodeAck(70000)), '9215ce00011170');
  t.equal(hex(encodeError(7, 'OFFER_NOT_FOUND', 'x')), '941a07af4f464645525f4e4f545f464f554e44a178');
  t.equal(hex(encodeAssigned('o1', 'o1.1')), '9318a26f31a46f312e31');
  const offer = {
    orderId: 'o1',
    offerId: 'o1.1',
    expiresAt: AT,
    pickupLat: 12.5,
    pickupLng: 77.25,
    dropLat: 12.75,
    dropLng: 77.5,
    pickupDistanceM: 300,
    pickupEtaS: 60,
    payout: null,
  };
  const frames = [
    [
      encodeWelcome(3, 'rider-1', AT, AT + 3600_000),
      { type: Frame.WELCOME, lastSeq: 3, riderId: 'rider-1', serverTime: AT, tokenExpiresAt: AT + 3600_000 },
    ],
    [encodeAck(5), { type: Frame.ACK, lastSeq: 5 }],
    [encodeOffer(offer), { type: Frame.OFFER, ...offer }],
    [
      encodeOfferEnded('o1', 'o1.1', OfferEndCode.EXPIRED),
      { type: Frame.OFFER_ENDED, orderId: 'o1', offerId: 'o1.1', outcome: 2 },
    ],
    [encodeAssigned('o1', 'o1.1'), { type: Frame.ASSIGNED, orderId: 'o1', offerId: 'o1.1' }],
    [
      encodeOrderUpdate('o1', 'picked_up', AT),
      { type: Frame.ORDER_UPDATE, orderId: 'o1', status: 'picked_up', at: AT },
    ],
    [encodeError(7, 'OFFER_NOT_FOUND', 'x'), { type: Frame.ERROR, seq: 7, code: 'OFFER_NOT_FOUND', detail: 'x' }],
    [encodePong(1, 2), { type: Frame.PONG, clientTime: 1, serverTime: 2 }],
  ] as const;
  for (const [b, want] of frames) t.same(decodeServerFrame(b), { ok: true, frame: want }, `type ${want.type}`);
});

t.test('a stacked OFFER and ASSIGNED carry the route as [kind, order_id, lat, lng] stops', async (t) => {
  const stops = [
    { kind: 'pickup', orderId: 'o1' as OrderId, at: { lat: 12.5, lng: 77.25 } },
    { kind: 'pickup', orderId: 'o2' as OrderId, at: { lat: 12.5, lng: 77.25 } },
    { kind: 'drop', orderId: 'o2' as OrderId, at: { lat: 12.75, lng: 77.5 } },
    { kind: 'drop', orderId: 'o1' as OrderId, at: { lat: 12.5, lng: 77.5 } },
  ] as const;
  // [25, "o1", "o1.1", [[1, "o1", 12.5, 77.25]]]: a pickup is 1, a drop 2.
  t.equal(
    hex(encodeAssigned('o1', 'o1.1', stops.slice(0, 1))),
    '9418a26f31a46f312e31' + '91' + '9401a26f31cb4029000000000000cb4053500000000000',
  );
  const offer = {
    orderId: 'o2',
    offerId: 'o2.1',
    expiresAt: AT,
    pickupLat: 12.5,
    pickupLng: 77.25,
    dropLat: 12.75,
    dropLng: 77.5,
    pickupDistanceM: 300,
    pickupEtaS: 60,
    payout: 4000,
    stops,
  };
  t.same(decodeServerFrame(encodeOffer(offer)), { ok: true, frame: { type: Frame.OFFER, ...offer } });
  t.same(decodeServerFrame(encodeAssigned('o2', 'o2.1', stops)), {
    ok: true,
    frame: { type: Frame.ASSIGNED, orderId: 'o2', offerId: 'o2.1', stops },
  });
  const { stops: _, ...lone } = offer;
  t.equal(hex(encodeOffer(lone)).slice(0, 4), '9b16', 'a lone offer: 11 elements, as before stacking');
  t.equal(hex(encodeOffer(offer)).slice(0, 4), '9c16', 'a stacked offer: 12');
  const base = [Frame.OFFER, 'o2', 'o2.1', AT, 12.5, 77.25, 12.75, 77.5, 300, 60, null];
  for (const bad of [
    [],
    [[StopKind.DROP + 1, 'o1', 1, 2]],
    [[1, 7, 1, 2]],
    [[1, 'o1', '1', 2]],
    [[1, 'o1', 1]],
    'x',
    [1, 'o1', 1, 2],
  ])
    t.match(decodeServerFrame(encodeRaw([...base, bad])), { ok: false, code: 'FRAME_INVALID' }, JSON.stringify(bad));
  t.match(decodeServerFrame(encodeRaw([Frame.ASSIGNED, 'o1', 'o1.1', []])), { ok: false });
  t.match(decodeServerFrame(encodeRaw([...base, [[1, 'o1', 1, 2]], 5])), { ok: false }, 'no 13th element');
});

t.test('size limits: an oversize frame is refused with FRAME_TOO_LARGE', async (t) => {
  const big = encodeOrderCommand(Frame.ACCEPT, 1, 'a'.repeat(2000));
  t.match(decodeClientFrame(big), { ok: false, code: 'FRAME_TOO_LARGE', seq: 1 });
  t.match(decodeClientFrame(new Uint8Array(RiderLimits.MAX_AUTH_FRAME_BYTES + 1)), {
    ok: false,
    code: 'FRAME_TOO_LARGE',
  });
  t.match(decodeClientFrame(encodeAuth('t'.repeat(1500))), { ok: true }, 'AUTH frames may carry a long token');
  const batch = Array.from({ length: RiderLimits.MAX_BATCH }, (_, i) => ({
    ...FIX,
    heading: 1.5,
    speed: 2.5,
    at: AT + i,
  }));
  t.ok(encodePositionBatch(1, batch).length <= RiderLimits.MAX_FRAME_BYTES, 'a full batch fits the frame limit');
  t.match(decodeClientFrame(encodePositionBatch(1, [...batch, FIX])), {
    ok: false,
    code: 'FRAME_INVALID',
    detail: /1 to 16/,
  });
  t.ok(ErrorCodes.FRAME_TOO_LARGE && ErrorCodes.FRAME_INVALID, 'both codes are in the table');
});

t.test('every prefix of a valid frame is a coded error, fed byte by byte', async (t) => {
  const valid = [
    encodePosition(1, FIX),
    encodePositionBatch(2, [FIX]),
    encodeStatus(3, 1),
    encodeOrderCommand(Frame.ACCEPT, 4, 'o1'),
    encodeAuth('tok'),
  ];
  const s = positionScratch();
  for (const b of valid) {
    for (let n = 0; n < b.length; n++) {
      const prefix = b.subarray(0, n);
      t.equal(readPositionFrame(prefix, s), false);
      const d = decodeClientFrame(prefix);
      if (d.ok) t.fail(`prefix ${hex(prefix)} decoded`);
      else if (d.code !== 'FRAME_INVALID') t.fail(d.code);
    }
  }
  t.pass('no prefix decoded');
});

t.test('unknown types, wrong shapes and non-arrays', async (t) => {
  t.match(decodeClientFrame(encodeRaw([99, 1])), {
    ok: false,
    code: 'FRAME_INVALID',
    detail: /unknown frame type 99/,
    seq: 1,
  });
  t.match(decodeClientFrame(encodeRaw({ type: 1 })), { ok: false, code: 'FRAME_INVALID' });
  t.match(decodeClientFrame(encodeRaw('hello')), { ok: false, code: 'FRAME_INVALID' });
  t.match(decodeClientFrame(encodeRaw([Frame.STATUS, 1, 9])), { ok: false, detail: /status/ });
  t.match(decodeClientFrame(encodeRaw([Frame.ACCEPT, 1, 'has space'])), { ok: false, detail: /orderId/ });
  t.match(
    decodeClientFrame(encodeRaw([Frame.WELCOME, 1, 'x', 1, 1])),
    { ok: false, detail: /unknown/ },
    'server frames are not client frames',
  );
  t.match(decodeServerFrame(encodeRaw([Frame.POSITION, 1])), { ok: false });
});

const isCoded = (d: ReturnType<typeof decodeClientFrame>): boolean =>
  d.ok
    ? typeof d.frame.type === 'number'
    : (d.code === 'FRAME_INVALID' || d.code === 'FRAME_TOO_LARGE') && typeof d.detail === 'string';

t.test('fuzz: random bytes never throw', async (t) => {
  const s = positionScratch();
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 1200 }), (b) => {
      const fast = readPositionFrame(b, s);
      const d = decodeClientFrame(b);
      if (fast && !(d.ok && d.frame.type === Frame.POSITION)) return false;
      decodeServerFrame(b);
      return isCoded(d);
    }),
    { numRuns: 3000, seed: 42 },
  );
  t.pass();
});

t.test('fuzz: mutated valid frames never throw, and fast path agrees with the decoder', async (t) => {
  const valid = [
    encodePosition(7, FIX),
    encodePosition(8, { ...FIX, heading: 10, speed: 1 }),
    encodePositionBatch(2, [FIX, FIX]),
    encodeStatus(3, 1),
    encodeOrderCommand(Frame.DECLINE, 4, 'order-1'),
    encodePing(5),
    encodeAuth('a.b.c'),
  ];
  const s = positionScratch();
  fc.assert(
    fc.property(
      fc.constantFrom(...valid),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), {
        minLength: 1,
        maxLength: 4,
      }),
      (base, edits) => {
        const a = Array.from(base);
        for (const [i, v, op] of edits) {
          const at = a.length === 0 ? 0 : i % a.length;
          if (op === 'set') a[at] = v;
          else if (op === 'insert') a.splice(at, 0, v);
          else a.splice(at, 1);
        }
        const b = Uint8Array.from(a);
        const d = decodeClientFrame(b);
        if (readPositionFrame(b, s)) {
          // Whatever the fast path accepts, the general decoder accepts with the same values.
          if (!d.ok || d.frame.type !== Frame.POSITION) return false;
          const f = d.frame.fix;
          if (
            !Object.is(f.lat, s.lat) ||
            !Object.is(f.at, s.at) ||
            !Object.is(f.heading, s.heading) ||
            d.frame.seq !== s.seq
          )
            return false;
        }
        return isCoded(d);
      },
    ),
    { numRuns: 5000, seed: 7 },
  );
  t.pass();
});

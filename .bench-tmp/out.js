var __defProp = Object.defineProperty;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __defNormalProp = (obj, key, value) => key in obj ? __defProp(obj, key, { enumerable: true, configurable: true, writable: true, value }) : obj[key] = value;
var __esm = (fn2, res, err) => function __init() {
  if (err) throw err[0];
  try {
    return fn2 && (res = (0, fn2[__getOwnPropNames(fn2)[0]])(fn2 = 0)), res;
  } catch (e7) {
    throw err = [e7], e7;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __publicField = (obj, key, value) => __defNormalProp(obj, typeof key !== "symbol" ? key + "" : key, value);

// node_modules/openpgp/dist/lightweight/sha512.min.mjs
function s(t7) {
  return t7 instanceof Uint8Array || ArrayBuffer.isView(t7) && "Uint8Array" === t7.constructor.name;
}
function i(t7) {
  if (!Number.isSafeInteger(t7) || t7 < 0) throw Error("positive integer expected, got " + t7);
}
function n(t7, ...e7) {
  if (!s(t7)) throw Error("Uint8Array expected");
  if (e7.length > 0 && !e7.includes(t7.length)) throw Error("Uint8Array expected of length " + e7 + ", got length=" + t7.length);
}
function r(t7) {
  if ("function" != typeof t7 || "function" != typeof t7.create) throw Error("Hash should be wrapped by utils.createHasher");
  i(t7.outputLen), i(t7.blockLen);
}
function h(t7, e7 = true) {
  if (t7.destroyed) throw Error("Hash instance has been destroyed");
  if (e7 && t7.finished) throw Error("Hash#digest() has already been called");
}
function o(t7, e7) {
  n(t7);
  const s7 = e7.outputLen;
  if (t7.length < s7) throw Error("digestInto() expects output buffer of length at least " + s7);
}
function c(...t7) {
  for (let e7 = 0; e7 < t7.length; e7++) t7[e7].fill(0);
}
function f(t7) {
  return new DataView(t7.buffer, t7.byteOffset, t7.byteLength);
}
function a(t7, e7) {
  return t7 << 32 - e7 | t7 >>> e7;
}
function l(t7, e7) {
  return t7 << e7 | t7 >>> 32 - e7 >>> 0;
}
function x(t7) {
  if (n(t7), d) return t7.toHex();
  let e7 = "";
  for (let s7 = 0; s7 < t7.length; s7++) e7 += b[t7[s7]];
  return e7;
}
function U(t7) {
  return t7 >= p && t7 <= g ? t7 - p : t7 >= y && t7 <= w ? t7 - (y - 10) : t7 >= A && t7 <= E ? t7 - (A - 10) : void 0;
}
function B(t7) {
  if ("string" != typeof t7) throw Error("hex string expected, got " + typeof t7);
  if (d) return Uint8Array.fromHex(t7);
  const e7 = t7.length, s7 = e7 / 2;
  if (e7 % 2) throw Error("hex string expected, got unpadded hex of length " + e7);
  const i7 = new Uint8Array(s7);
  for (let e8 = 0, n7 = 0; e8 < s7; e8++, n7 += 2) {
    const s8 = U(t7.charCodeAt(n7)), r7 = U(t7.charCodeAt(n7 + 1));
    if (void 0 === s8 || void 0 === r7) {
      const e9 = t7[n7] + t7[n7 + 1];
      throw Error('hex string expected, got non-hex character "' + e9 + '" at index ' + n7);
    }
    i7[e8] = 16 * s8 + r7;
  }
  return i7;
}
function L(t7) {
  return "string" == typeof t7 && (t7 = (function(t8) {
    if ("string" != typeof t8) throw Error("string expected");
    return new Uint8Array(new TextEncoder().encode(t8));
  })(t7)), n(t7), t7;
}
function k(...t7) {
  let e7 = 0;
  for (let s8 = 0; s8 < t7.length; s8++) {
    const i7 = t7[s8];
    n(i7), e7 += i7.length;
  }
  const s7 = new Uint8Array(e7);
  for (let e8 = 0, i7 = 0; e8 < t7.length; e8++) {
    const n7 = t7[e8];
    s7.set(n7, i7), i7 += n7.length;
  }
  return s7;
}
function I(t7) {
  const e7 = (e8) => t7().update(L(e8)).digest(), s7 = t7();
  return e7.outputLen = s7.outputLen, e7.blockLen = s7.blockLen, e7.create = () => t7(), e7;
}
function C(t7 = 32) {
  if (e && "function" == typeof e.getRandomValues) return e.getRandomValues(new Uint8Array(t7));
  if (e && "function" == typeof e.randomBytes) return Uint8Array.from(e.randomBytes(t7));
  throw Error("crypto.getRandomValues must be defined");
}
function F(t7, e7, s7) {
  return t7 & e7 ^ ~t7 & s7;
}
function D(t7, e7, s7) {
  return t7 & e7 ^ t7 & s7 ^ e7 & s7;
}
function V(t7, e7 = false) {
  return e7 ? { h: Number(t7 & _), l: Number(t7 >> M & _) } : { h: 0 | Number(t7 >> M & _), l: 0 | Number(t7 & _) };
}
function R(t7, e7 = false) {
  const s7 = t7.length;
  let i7 = new Uint32Array(s7), n7 = new Uint32Array(s7);
  for (let r7 = 0; r7 < s7; r7++) {
    const { h: s8, l: h6 } = V(t7[r7], e7);
    [i7[r7], n7[r7]] = [s8, h6];
  }
  return [i7, n7];
}
function K(t7, e7, s7, i7) {
  const n7 = (e7 >>> 0) + (i7 >>> 0);
  return { h: t7 + s7 + (n7 / 2 ** 32 | 0) | 0, l: 0 | n7 };
}
var t, e, u, d, b, p, g, y, w, A, E, m, H, O, G, v, N, X, _, M, S, j, q, T, z, J, P, Q, W, Y, Z, $, tt, et, st, it, nt, rt, ht, ot, ct, ft, at, lt, ut, dt, bt, xt, pt, gt, yt, wt, At, Et, Ut, Bt, Lt, kt, mt, It, Ht, Ct, Ft, Dt, Ot, Gt, vt, Nt, Xt, _t, Mt;
var init_sha512_min = __esm({
  "node_modules/openpgp/dist/lightweight/sha512.min.mjs"() {
    t = "undefined" != typeof window ? window : "undefined" != typeof global ? global : "undefined" != typeof self ? self : {};
    e = "object" == typeof t && "crypto" in t ? t.crypto : void 0;
    u = /* @__PURE__ */ (() => 68 === new Uint8Array(new Uint32Array([287454020]).buffer)[0])() ? (t7) => t7 : function(t7) {
      for (let s7 = 0; s7 < t7.length; s7++) t7[s7] = (e7 = t7[s7]) << 24 & 4278190080 | e7 << 8 & 16711680 | e7 >>> 8 & 65280 | e7 >>> 24 & 255;
      var e7;
      return t7;
    };
    d = /* @__PURE__ */ (() => "function" == typeof Uint8Array.from([]).toHex && "function" == typeof Uint8Array.fromHex)();
    b = /* @__PURE__ */ Array.from({ length: 256 }, ((t7, e7) => e7.toString(16).padStart(2, "0")));
    p = 48;
    g = 57;
    y = 65;
    w = 70;
    A = 97;
    E = 102;
    m = class {
    };
    H = I;
    O = class extends m {
      constructor(t7, e7, s7, i7) {
        super(), this.finished = false, this.length = 0, this.pos = 0, this.destroyed = false, this.blockLen = t7, this.outputLen = e7, this.padOffset = s7, this.isLE = i7, this.buffer = new Uint8Array(t7), this.view = f(this.buffer);
      }
      update(t7) {
        h(this), n(t7 = L(t7));
        const { view: e7, buffer: s7, blockLen: i7 } = this, r7 = t7.length;
        for (let n7 = 0; n7 < r7; ) {
          const h6 = Math.min(i7 - this.pos, r7 - n7);
          if (h6 !== i7) s7.set(t7.subarray(n7, n7 + h6), this.pos), this.pos += h6, n7 += h6, this.pos === i7 && (this.process(e7, 0), this.pos = 0);
          else {
            const e8 = f(t7);
            for (; i7 <= r7 - n7; n7 += i7) this.process(e8, n7);
          }
        }
        return this.length += t7.length, this.roundClean(), this;
      }
      digestInto(t7) {
        h(this), o(t7, this), this.finished = true;
        const { buffer: e7, view: s7, blockLen: i7, isLE: n7 } = this;
        let { pos: r7 } = this;
        e7[r7++] = 128, c(this.buffer.subarray(r7)), this.padOffset > i7 - r7 && (this.process(s7, 0), r7 = 0);
        for (let t8 = r7; t8 < i7; t8++) e7[t8] = 0;
        !(function(t8, e8, s8, i8) {
          if ("function" == typeof t8.setBigUint64) return t8.setBigUint64(e8, s8, i8);
          const n8 = BigInt(32), r8 = BigInt(4294967295), h6 = Number(s8 >> n8 & r8), o7 = Number(s8 & r8), c6 = i8 ? 4 : 0, f7 = i8 ? 0 : 4;
          t8.setUint32(e8 + c6, h6, i8), t8.setUint32(e8 + f7, o7, i8);
        })(s7, i7 - 8, BigInt(8 * this.length), n7), this.process(s7, 0);
        const a7 = f(t7), l5 = this.outputLen;
        if (l5 % 4) throw Error("_sha2: outputLen should be aligned to 32bit");
        const u7 = l5 / 4, d5 = this.get();
        if (u7 > d5.length) throw Error("_sha2: outputLen bigger than state");
        for (let t8 = 0; t8 < u7; t8++) a7.setUint32(4 * t8, d5[t8], n7);
      }
      digest() {
        const { buffer: t7, outputLen: e7 } = this;
        this.digestInto(t7);
        const s7 = t7.slice(0, e7);
        return this.destroy(), s7;
      }
      _cloneInto(t7) {
        t7 || (t7 = new this.constructor()), t7.set(...this.get());
        const { blockLen: e7, buffer: s7, length: i7, finished: n7, destroyed: r7, pos: h6 } = this;
        return t7.destroyed = r7, t7.finished = n7, t7.length = i7, t7.pos = h6, i7 % e7 && t7.buffer.set(s7), t7;
      }
      clone() {
        return this._cloneInto();
      }
    };
    G = /* @__PURE__ */ Uint32Array.from([1779033703, 3144134277, 1013904242, 2773480762, 1359893119, 2600822924, 528734635, 1541459225]);
    v = /* @__PURE__ */ Uint32Array.from([3238371032, 914150663, 812702999, 4144912697, 4290775857, 1750603025, 1694076839, 3204075428]);
    N = /* @__PURE__ */ Uint32Array.from([3418070365, 3238371032, 1654270250, 914150663, 2438529370, 812702999, 355462360, 4144912697, 1731405415, 4290775857, 2394180231, 1750603025, 3675008525, 1694076839, 1203062813, 3204075428]);
    X = /* @__PURE__ */ Uint32Array.from([1779033703, 4089235720, 3144134277, 2227873595, 1013904242, 4271175723, 2773480762, 1595750129, 1359893119, 2917565137, 2600822924, 725511199, 528734635, 4215389547, 1541459225, 327033209]);
    _ = /* @__PURE__ */ BigInt(2 ** 32 - 1);
    M = /* @__PURE__ */ BigInt(32);
    S = (t7, e7, s7) => t7 >>> s7;
    j = (t7, e7, s7) => t7 << 32 - s7 | e7 >>> s7;
    q = (t7, e7, s7) => t7 >>> s7 | e7 << 32 - s7;
    T = (t7, e7, s7) => t7 << 32 - s7 | e7 >>> s7;
    z = (t7, e7, s7) => t7 << 64 - s7 | e7 >>> s7 - 32;
    J = (t7, e7, s7) => t7 >>> s7 - 32 | e7 << 64 - s7;
    P = (t7, e7, s7) => (t7 >>> 0) + (e7 >>> 0) + (s7 >>> 0);
    Q = (t7, e7, s7, i7) => e7 + s7 + i7 + (t7 / 2 ** 32 | 0) | 0;
    W = (t7, e7, s7, i7) => (t7 >>> 0) + (e7 >>> 0) + (s7 >>> 0) + (i7 >>> 0);
    Y = (t7, e7, s7, i7, n7) => e7 + s7 + i7 + n7 + (t7 / 2 ** 32 | 0) | 0;
    Z = (t7, e7, s7, i7, n7) => (t7 >>> 0) + (e7 >>> 0) + (s7 >>> 0) + (i7 >>> 0) + (n7 >>> 0);
    $ = (t7, e7, s7, i7, n7, r7) => e7 + s7 + i7 + n7 + r7 + (t7 / 2 ** 32 | 0) | 0;
    tt = /* @__PURE__ */ Uint32Array.from([1116352408, 1899447441, 3049323471, 3921009573, 961987163, 1508970993, 2453635748, 2870763221, 3624381080, 310598401, 607225278, 1426881987, 1925078388, 2162078206, 2614888103, 3248222580, 3835390401, 4022224774, 264347078, 604807628, 770255983, 1249150122, 1555081692, 1996064986, 2554220882, 2821834349, 2952996808, 3210313671, 3336571891, 3584528711, 113926993, 338241895, 666307205, 773529912, 1294757372, 1396182291, 1695183700, 1986661051, 2177026350, 2456956037, 2730485921, 2820302411, 3259730800, 3345764771, 3516065817, 3600352804, 4094571909, 275423344, 430227734, 506948616, 659060556, 883997877, 958139571, 1322822218, 1537002063, 1747873779, 1955562222, 2024104815, 2227730452, 2361852424, 2428436474, 2756734187, 3204031479, 3329325298]);
    et = /* @__PURE__ */ new Uint32Array(64);
    st = class extends O {
      constructor(t7 = 32) {
        super(64, t7, 8, false), this.A = 0 | G[0], this.B = 0 | G[1], this.C = 0 | G[2], this.D = 0 | G[3], this.E = 0 | G[4], this.F = 0 | G[5], this.G = 0 | G[6], this.H = 0 | G[7];
      }
      get() {
        const { A: t7, B: e7, C: s7, D: i7, E: n7, F: r7, G: h6, H: o7 } = this;
        return [t7, e7, s7, i7, n7, r7, h6, o7];
      }
      set(t7, e7, s7, i7, n7, r7, h6, o7) {
        this.A = 0 | t7, this.B = 0 | e7, this.C = 0 | s7, this.D = 0 | i7, this.E = 0 | n7, this.F = 0 | r7, this.G = 0 | h6, this.H = 0 | o7;
      }
      process(t7, e7) {
        for (let s8 = 0; s8 < 16; s8++, e7 += 4) et[s8] = t7.getUint32(e7, false);
        for (let t8 = 16; t8 < 64; t8++) {
          const e8 = et[t8 - 15], s8 = et[t8 - 2], i8 = a(e8, 7) ^ a(e8, 18) ^ e8 >>> 3, n8 = a(s8, 17) ^ a(s8, 19) ^ s8 >>> 10;
          et[t8] = n8 + et[t8 - 7] + i8 + et[t8 - 16] | 0;
        }
        let { A: s7, B: i7, C: n7, D: r7, E: h6, F: o7, G: c6, H: f7 } = this;
        for (let t8 = 0; t8 < 64; t8++) {
          const e8 = f7 + (a(h6, 6) ^ a(h6, 11) ^ a(h6, 25)) + F(h6, o7, c6) + tt[t8] + et[t8] | 0, l5 = (a(s7, 2) ^ a(s7, 13) ^ a(s7, 22)) + D(s7, i7, n7) | 0;
          f7 = c6, c6 = o7, o7 = h6, h6 = r7 + e8 | 0, r7 = n7, n7 = i7, i7 = s7, s7 = e8 + l5 | 0;
        }
        s7 = s7 + this.A | 0, i7 = i7 + this.B | 0, n7 = n7 + this.C | 0, r7 = r7 + this.D | 0, h6 = h6 + this.E | 0, o7 = o7 + this.F | 0, c6 = c6 + this.G | 0, f7 = f7 + this.H | 0, this.set(s7, i7, n7, r7, h6, o7, c6, f7);
      }
      roundClean() {
        c(et);
      }
      destroy() {
        this.set(0, 0, 0, 0, 0, 0, 0, 0), c(this.buffer);
      }
    };
    it = class extends st {
      constructor() {
        super(28), this.A = 0 | v[0], this.B = 0 | v[1], this.C = 0 | v[2], this.D = 0 | v[3], this.E = 0 | v[4], this.F = 0 | v[5], this.G = 0 | v[6], this.H = 0 | v[7];
      }
    };
    nt = /* @__PURE__ */ (() => R(["0x428a2f98d728ae22", "0x7137449123ef65cd", "0xb5c0fbcfec4d3b2f", "0xe9b5dba58189dbbc", "0x3956c25bf348b538", "0x59f111f1b605d019", "0x923f82a4af194f9b", "0xab1c5ed5da6d8118", "0xd807aa98a3030242", "0x12835b0145706fbe", "0x243185be4ee4b28c", "0x550c7dc3d5ffb4e2", "0x72be5d74f27b896f", "0x80deb1fe3b1696b1", "0x9bdc06a725c71235", "0xc19bf174cf692694", "0xe49b69c19ef14ad2", "0xefbe4786384f25e3", "0x0fc19dc68b8cd5b5", "0x240ca1cc77ac9c65", "0x2de92c6f592b0275", "0x4a7484aa6ea6e483", "0x5cb0a9dcbd41fbd4", "0x76f988da831153b5", "0x983e5152ee66dfab", "0xa831c66d2db43210", "0xb00327c898fb213f", "0xbf597fc7beef0ee4", "0xc6e00bf33da88fc2", "0xd5a79147930aa725", "0x06ca6351e003826f", "0x142929670a0e6e70", "0x27b70a8546d22ffc", "0x2e1b21385c26c926", "0x4d2c6dfc5ac42aed", "0x53380d139d95b3df", "0x650a73548baf63de", "0x766a0abb3c77b2a8", "0x81c2c92e47edaee6", "0x92722c851482353b", "0xa2bfe8a14cf10364", "0xa81a664bbc423001", "0xc24b8b70d0f89791", "0xc76c51a30654be30", "0xd192e819d6ef5218", "0xd69906245565a910", "0xf40e35855771202a", "0x106aa07032bbd1b8", "0x19a4c116b8d2d0c8", "0x1e376c085141ab53", "0x2748774cdf8eeb99", "0x34b0bcb5e19b48a8", "0x391c0cb3c5c95a63", "0x4ed8aa4ae3418acb", "0x5b9cca4f7763e373", "0x682e6ff3d6b2b8a3", "0x748f82ee5defb2fc", "0x78a5636f43172f60", "0x84c87814a1f0ab72", "0x8cc702081a6439ec", "0x90befffa23631e28", "0xa4506cebde82bde9", "0xbef9a3f7b2c67915", "0xc67178f2e372532b", "0xca273eceea26619c", "0xd186b8c721c0c207", "0xeada7dd6cde0eb1e", "0xf57d4f7fee6ed178", "0x06f067aa72176fba", "0x0a637dc5a2c898a6", "0x113f9804bef90dae", "0x1b710b35131c471b", "0x28db77f523047d84", "0x32caab7b40c72493", "0x3c9ebe0a15c9bebc", "0x431d67c49c100d4c", "0x4cc5d4becb3e42b6", "0x597f299cfc657e2a", "0x5fcb6fab3ad6faec", "0x6c44198c4a475817"].map(((t7) => BigInt(t7)))))();
    rt = /* @__PURE__ */ (() => nt[0])();
    ht = /* @__PURE__ */ (() => nt[1])();
    ot = /* @__PURE__ */ new Uint32Array(80);
    ct = /* @__PURE__ */ new Uint32Array(80);
    ft = class extends O {
      constructor(t7 = 64) {
        super(128, t7, 16, false), this.Ah = 0 | X[0], this.Al = 0 | X[1], this.Bh = 0 | X[2], this.Bl = 0 | X[3], this.Ch = 0 | X[4], this.Cl = 0 | X[5], this.Dh = 0 | X[6], this.Dl = 0 | X[7], this.Eh = 0 | X[8], this.El = 0 | X[9], this.Fh = 0 | X[10], this.Fl = 0 | X[11], this.Gh = 0 | X[12], this.Gl = 0 | X[13], this.Hh = 0 | X[14], this.Hl = 0 | X[15];
      }
      get() {
        const { Ah: t7, Al: e7, Bh: s7, Bl: i7, Ch: n7, Cl: r7, Dh: h6, Dl: o7, Eh: c6, El: f7, Fh: a7, Fl: l5, Gh: u7, Gl: d5, Hh: b5, Hl: x6 } = this;
        return [t7, e7, s7, i7, n7, r7, h6, o7, c6, f7, a7, l5, u7, d5, b5, x6];
      }
      set(t7, e7, s7, i7, n7, r7, h6, o7, c6, f7, a7, l5, u7, d5, b5, x6) {
        this.Ah = 0 | t7, this.Al = 0 | e7, this.Bh = 0 | s7, this.Bl = 0 | i7, this.Ch = 0 | n7, this.Cl = 0 | r7, this.Dh = 0 | h6, this.Dl = 0 | o7, this.Eh = 0 | c6, this.El = 0 | f7, this.Fh = 0 | a7, this.Fl = 0 | l5, this.Gh = 0 | u7, this.Gl = 0 | d5, this.Hh = 0 | b5, this.Hl = 0 | x6;
      }
      process(t7, e7) {
        for (let s8 = 0; s8 < 16; s8++, e7 += 4) ot[s8] = t7.getUint32(e7), ct[s8] = t7.getUint32(e7 += 4);
        for (let t8 = 16; t8 < 80; t8++) {
          const e8 = 0 | ot[t8 - 15], s8 = 0 | ct[t8 - 15], i8 = q(e8, s8, 1) ^ q(e8, s8, 8) ^ S(e8, 0, 7), n8 = T(e8, s8, 1) ^ T(e8, s8, 8) ^ j(e8, s8, 7), r8 = 0 | ot[t8 - 2], h7 = 0 | ct[t8 - 2], o8 = q(r8, h7, 19) ^ z(r8, h7, 61) ^ S(r8, 0, 6), c7 = T(r8, h7, 19) ^ J(r8, h7, 61) ^ j(r8, h7, 6), f8 = W(n8, c7, ct[t8 - 7], ct[t8 - 16]), a8 = Y(f8, i8, o8, ot[t8 - 7], ot[t8 - 16]);
          ot[t8] = 0 | a8, ct[t8] = 0 | f8;
        }
        let { Ah: s7, Al: i7, Bh: n7, Bl: r7, Ch: h6, Cl: o7, Dh: c6, Dl: f7, Eh: a7, El: l5, Fh: u7, Fl: d5, Gh: b5, Gl: x6, Hh: p4, Hl: g6 } = this;
        for (let t8 = 0; t8 < 80; t8++) {
          const e8 = q(a7, l5, 14) ^ q(a7, l5, 18) ^ z(a7, l5, 41), y7 = T(a7, l5, 14) ^ T(a7, l5, 18) ^ J(a7, l5, 41), w7 = a7 & u7 ^ ~a7 & b5, A7 = Z(g6, y7, l5 & d5 ^ ~l5 & x6, ht[t8], ct[t8]), E7 = $(A7, p4, e8, w7, rt[t8], ot[t8]), U7 = 0 | A7, B6 = q(s7, i7, 28) ^ z(s7, i7, 34) ^ z(s7, i7, 39), L4 = T(s7, i7, 28) ^ J(s7, i7, 34) ^ J(s7, i7, 39), k6 = s7 & n7 ^ s7 & h6 ^ n7 & h6, m5 = i7 & r7 ^ i7 & o7 ^ r7 & o7;
          p4 = 0 | b5, g6 = 0 | x6, b5 = 0 | u7, x6 = 0 | d5, u7 = 0 | a7, d5 = 0 | l5, { h: a7, l: l5 } = K(0 | c6, 0 | f7, 0 | E7, 0 | U7), c6 = 0 | h6, f7 = 0 | o7, h6 = 0 | n7, o7 = 0 | r7, n7 = 0 | s7, r7 = 0 | i7;
          const I7 = P(U7, L4, m5);
          s7 = Q(I7, E7, B6, k6), i7 = 0 | I7;
        }
        ({ h: s7, l: i7 } = K(0 | this.Ah, 0 | this.Al, 0 | s7, 0 | i7)), { h: n7, l: r7 } = K(0 | this.Bh, 0 | this.Bl, 0 | n7, 0 | r7), { h: h6, l: o7 } = K(0 | this.Ch, 0 | this.Cl, 0 | h6, 0 | o7), { h: c6, l: f7 } = K(0 | this.Dh, 0 | this.Dl, 0 | c6, 0 | f7), { h: a7, l: l5 } = K(0 | this.Eh, 0 | this.El, 0 | a7, 0 | l5), { h: u7, l: d5 } = K(0 | this.Fh, 0 | this.Fl, 0 | u7, 0 | d5), { h: b5, l: x6 } = K(0 | this.Gh, 0 | this.Gl, 0 | b5, 0 | x6), { h: p4, l: g6 } = K(0 | this.Hh, 0 | this.Hl, 0 | p4, 0 | g6), this.set(s7, i7, n7, r7, h6, o7, c6, f7, a7, l5, u7, d5, b5, x6, p4, g6);
      }
      roundClean() {
        c(ot, ct);
      }
      destroy() {
        c(this.buffer), this.set(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
      }
    };
    at = class extends ft {
      constructor() {
        super(48), this.Ah = 0 | N[0], this.Al = 0 | N[1], this.Bh = 0 | N[2], this.Bl = 0 | N[3], this.Ch = 0 | N[4], this.Cl = 0 | N[5], this.Dh = 0 | N[6], this.Dl = 0 | N[7], this.Eh = 0 | N[8], this.El = 0 | N[9], this.Fh = 0 | N[10], this.Fl = 0 | N[11], this.Gh = 0 | N[12], this.Gl = 0 | N[13], this.Hh = 0 | N[14], this.Hl = 0 | N[15];
      }
    };
    lt = /* @__PURE__ */ I((() => new st()));
    ut = /* @__PURE__ */ I((() => new it()));
    dt = /* @__PURE__ */ I((() => new ft()));
    bt = /* @__PURE__ */ I((() => new at()));
    xt = BigInt(0);
    pt = BigInt(1);
    gt = BigInt(2);
    yt = BigInt(7);
    wt = BigInt(256);
    At = BigInt(113);
    Et = [];
    Ut = [];
    Bt = [];
    for (let t7 = 0, e7 = pt, s7 = 1, i7 = 0; t7 < 24; t7++) {
      [s7, i7] = [i7, (2 * s7 + 3 * i7) % 5], Et.push(2 * (5 * i7 + s7)), Ut.push((t7 + 1) * (t7 + 2) / 2 % 64);
      let n7 = xt;
      for (let t8 = 0; t8 < 7; t8++) e7 = (e7 << pt ^ (e7 >> yt) * At) % wt, e7 & gt && (n7 ^= pt << (pt << /* @__PURE__ */ BigInt(t8)) - pt);
      Bt.push(n7);
    }
    Lt = R(Bt, true);
    kt = Lt[0];
    mt = Lt[1];
    It = (t7, e7, s7) => s7 > 32 ? ((t8, e8, s8) => e8 << s8 - 32 | t8 >>> 64 - s8)(t7, e7, s7) : ((t8, e8, s8) => t8 << s8 | e8 >>> 32 - s8)(t7, e7, s7);
    Ht = (t7, e7, s7) => s7 > 32 ? ((t8, e8, s8) => t8 << s8 - 32 | e8 >>> 64 - s8)(t7, e7, s7) : ((t8, e8, s8) => e8 << s8 | t8 >>> 32 - s8)(t7, e7, s7);
    Ct = class _Ct extends m {
      constructor(t7, e7, s7, n7 = false, r7 = 24) {
        if (super(), this.pos = 0, this.posOut = 0, this.finished = false, this.destroyed = false, this.enableXOF = false, this.blockLen = t7, this.suffix = e7, this.outputLen = s7, this.enableXOF = n7, this.rounds = r7, i(s7), !(0 < t7 && t7 < 200)) throw Error("only keccak-f1600 function is supported");
        var h6;
        this.state = new Uint8Array(200), this.state32 = (h6 = this.state, new Uint32Array(h6.buffer, h6.byteOffset, Math.floor(h6.byteLength / 4)));
      }
      clone() {
        return this._cloneInto();
      }
      keccak() {
        u(this.state32), (function(t7, e7 = 24) {
          const s7 = new Uint32Array(10);
          for (let i7 = 24 - e7; i7 < 24; i7++) {
            for (let e9 = 0; e9 < 10; e9++) s7[e9] = t7[e9] ^ t7[e9 + 10] ^ t7[e9 + 20] ^ t7[e9 + 30] ^ t7[e9 + 40];
            for (let e9 = 0; e9 < 10; e9 += 2) {
              const i8 = (e9 + 8) % 10, n8 = (e9 + 2) % 10, r7 = s7[n8], h6 = s7[n8 + 1], o7 = It(r7, h6, 1) ^ s7[i8], c6 = Ht(r7, h6, 1) ^ s7[i8 + 1];
              for (let s8 = 0; s8 < 50; s8 += 10) t7[e9 + s8] ^= o7, t7[e9 + s8 + 1] ^= c6;
            }
            let e8 = t7[2], n7 = t7[3];
            for (let s8 = 0; s8 < 24; s8++) {
              const i8 = Ut[s8], r7 = It(e8, n7, i8), h6 = Ht(e8, n7, i8), o7 = Et[s8];
              e8 = t7[o7], n7 = t7[o7 + 1], t7[o7] = r7, t7[o7 + 1] = h6;
            }
            for (let e9 = 0; e9 < 50; e9 += 10) {
              for (let i8 = 0; i8 < 10; i8++) s7[i8] = t7[e9 + i8];
              for (let i8 = 0; i8 < 10; i8++) t7[e9 + i8] ^= ~s7[(i8 + 2) % 10] & s7[(i8 + 4) % 10];
            }
            t7[0] ^= kt[i7], t7[1] ^= mt[i7];
          }
          c(s7);
        })(this.state32, this.rounds), u(this.state32), this.posOut = 0, this.pos = 0;
      }
      update(t7) {
        h(this), n(t7 = L(t7));
        const { blockLen: e7, state: s7 } = this, i7 = t7.length;
        for (let n7 = 0; n7 < i7; ) {
          const r7 = Math.min(e7 - this.pos, i7 - n7);
          for (let e8 = 0; e8 < r7; e8++) s7[this.pos++] ^= t7[n7++];
          this.pos === e7 && this.keccak();
        }
        return this;
      }
      finish() {
        if (this.finished) return;
        this.finished = true;
        const { state: t7, suffix: e7, pos: s7, blockLen: i7 } = this;
        t7[s7] ^= e7, 128 & e7 && s7 === i7 - 1 && this.keccak(), t7[i7 - 1] ^= 128, this.keccak();
      }
      writeInto(t7) {
        h(this, false), n(t7), this.finish();
        const e7 = this.state, { blockLen: s7 } = this;
        for (let i7 = 0, n7 = t7.length; i7 < n7; ) {
          this.posOut >= s7 && this.keccak();
          const r7 = Math.min(s7 - this.posOut, n7 - i7);
          t7.set(e7.subarray(this.posOut, this.posOut + r7), i7), this.posOut += r7, i7 += r7;
        }
        return t7;
      }
      xofInto(t7) {
        if (!this.enableXOF) throw Error("XOF is not possible for this instance");
        return this.writeInto(t7);
      }
      xof(t7) {
        return i(t7), this.xofInto(new Uint8Array(t7));
      }
      digestInto(t7) {
        if (o(t7, this), this.finished) throw Error("digest() was already called");
        return this.writeInto(t7), this.destroy(), t7;
      }
      digest() {
        return this.digestInto(new Uint8Array(this.outputLen));
      }
      destroy() {
        this.destroyed = true, c(this.state);
      }
      _cloneInto(t7) {
        const { blockLen: e7, suffix: s7, outputLen: i7, rounds: n7, enableXOF: r7 } = this;
        return t7 || (t7 = new _Ct(e7, s7, i7, r7, n7)), t7.state32.set(this.state32), t7.pos = this.pos, t7.posOut = this.posOut, t7.finished = this.finished, t7.rounds = n7, t7.suffix = s7, t7.outputLen = i7, t7.enableXOF = r7, t7.destroyed = this.destroyed, t7;
      }
    };
    Ft = (t7, e7, s7) => I((() => new Ct(e7, t7, s7)));
    Dt = /* @__PURE__ */ (() => Ft(6, 136, 32))();
    Ot = /* @__PURE__ */ (() => Ft(6, 72, 64))();
    Gt = (t7, e7, s7) => (function(t8) {
      const e8 = (e9, s9) => t8(s9).update(L(e9)).digest(), s8 = t8({});
      return e8.outputLen = s8.outputLen, e8.blockLen = s8.blockLen, e8.create = (e9) => t8(e9), e8;
    })(((i7 = {}) => new Ct(e7, t7, void 0 === i7.dkLen ? s7 : i7.dkLen, true)));
    vt = /* @__PURE__ */ (() => Gt(31, 136, 32))();
    Nt = lt;
    Xt = ut;
    _t = dt;
    Mt = bt;
  }
});

// node_modules/openpgp/dist/lightweight/noble_curves.min.mjs
var noble_curves_min_exports = {};
__export(noble_curves_min_exports, {
  nobleCurves: () => ke
});
function x2(t7, e7 = "") {
  if ("boolean" != typeof t7) {
    throw Error((e7 && `"${e7}"`) + "expected boolean, got type=" + typeof t7);
  }
  return t7;
}
function v2(t7, e7, f7 = "") {
  const n7 = s(t7), o7 = t7?.length, i7 = void 0 !== e7;
  if (!n7 || i7 && o7 !== e7) {
    throw Error((f7 && `"${f7}" `) + "expected Uint8Array" + (i7 ? " of length " + e7 : "") + ", got " + (n7 ? "length=" + o7 : "type=" + typeof t7));
  }
  return t7;
}
function I2(t7) {
  const e7 = t7.toString(16);
  return 1 & e7.length ? "0" + e7 : e7;
}
function S2(t7) {
  if ("string" != typeof t7) throw Error("hex string expected, got " + typeof t7);
  return "" === t7 ? w2 : BigInt("0x" + t7);
}
function O2(t7) {
  return S2(x(t7));
}
function R2(t7) {
  return n(t7), S2(x(Uint8Array.from(t7).reverse()));
}
function F2(e7, f7) {
  return B(e7.toString(16).padStart(2 * f7, "0"));
}
function A2(t7, e7) {
  return F2(t7, e7).reverse();
}
function q2(e7, f7, n7) {
  let o7;
  if ("string" == typeof f7) try {
    o7 = B(f7);
  } catch (t7) {
    throw Error(e7 + " must be hex string or Uint8Array, cause: " + t7);
  }
  else {
    if (!s(f7)) throw Error(e7 + " must be hex string or Uint8Array");
    o7 = Uint8Array.from(f7);
  }
  const i7 = o7.length;
  if ("number" == typeof n7 && i7 !== n7) throw Error(e7 + " of length " + n7 + " expected, got " + i7);
  return o7;
}
function Z2(t7) {
  return Uint8Array.from(t7);
}
function N2(t7, e7, f7, r7) {
  if (!(function(t8, e8, f8) {
    return K2(t8) && K2(e8) && K2(f8) && e8 <= t8 && t8 < f8;
  })(e7, f7, r7)) throw Error("expected valid " + t7 + ": " + f7 + " <= n < " + r7 + ", got " + e7);
}
function P2(t7) {
  let e7;
  for (e7 = 0; t7 > w2; t7 >>= E2, e7 += 1) ;
  return e7;
}
function V2(t7, e7, f7 = {}) {
  if (!t7 || "object" != typeof t7) throw Error("expected valid options object");
  function r7(e8, f8, r8) {
    const n7 = t7[e8];
    if (r8 && void 0 === n7) return;
    const o7 = typeof n7;
    if (o7 !== f8 || null === n7) throw Error(`param "${e8}" is invalid: expected ${f8}, got ${o7}`);
  }
  Object.entries(e7).forEach((([t8, e8]) => r7(t8, e8, false))), Object.entries(f7).forEach((([t8, e8]) => r7(t8, e8, true)));
}
function T2(t7) {
  const e7 = /* @__PURE__ */ new WeakMap();
  return (f7, ...r7) => {
    const n7 = e7.get(f7);
    if (void 0 !== n7) return n7;
    const o7 = t7(f7, ...r7);
    return e7.set(f7, o7), o7;
  };
}
function X2(t7, e7) {
  const f7 = t7 % e7;
  return f7 >= C2 ? f7 : e7 + f7;
}
function M2(t7, e7, f7) {
  let r7 = t7;
  for (; e7-- > C2; ) r7 *= r7, r7 %= f7;
  return r7;
}
function $2(t7, e7) {
  if (t7 === C2) throw Error("invert: expected non-zero number");
  if (e7 <= C2) throw Error("invert: expected positive modulus, got " + e7);
  let f7 = X2(t7, e7), r7 = e7, n7 = C2, o7 = k2;
  for (; f7 !== C2; ) {
    const t8 = r7 % f7, e8 = n7 - o7 * (r7 / f7);
    r7 = f7, f7 = t8, n7 = o7, o7 = e8;
  }
  if (r7 !== k2) throw Error("invert: does not exist");
  return X2(n7, e7);
}
function W2(t7, e7, f7) {
  if (!t7.eql(t7.sqr(e7), f7)) throw Error("Cannot find square root");
}
function J2(t7, e7) {
  const f7 = (t7.ORDER + k2) / G2, r7 = t7.pow(e7, f7);
  return W2(t7, r7, e7), r7;
}
function Q2(t7, e7) {
  const f7 = (t7.ORDER - H2) / z2, r7 = t7.mul(e7, j2), n7 = t7.pow(r7, f7), o7 = t7.mul(e7, n7), i7 = t7.mul(t7.mul(o7, j2), n7), s7 = t7.mul(o7, t7.sub(i7, t7.ONE));
  return W2(t7, s7, e7), s7;
}
function tt2(t7) {
  if (t7 < L2) throw Error("sqrt is not defined for small field");
  let e7 = t7 - k2, f7 = 0;
  for (; e7 % j2 === C2; ) e7 /= j2, f7++;
  let r7 = j2;
  const n7 = it2(t7);
  for (; 1 === nt2(n7, r7); ) if (r7++ > 1e3) throw Error("Cannot find square root: probably non-prime P");
  if (1 === f7) return J2;
  let o7 = n7.pow(r7, e7);
  const i7 = (e7 + k2) / j2;
  return function(t8, r8) {
    if (t8.is0(r8)) return r8;
    if (1 !== nt2(t8, r8)) throw Error("Cannot find square root");
    let n8 = f7, s7 = t8.mul(t8.ONE, o7), c6 = t8.pow(r8, e7), a7 = t8.pow(r8, i7);
    for (; !t8.eql(c6, t8.ONE); ) {
      if (t8.is0(c6)) return t8.ZERO;
      let e8 = 1, f8 = t8.sqr(c6);
      for (; !t8.eql(f8, t8.ONE); ) if (e8++, f8 = t8.sqr(f8), e8 === n8) throw Error("Cannot find square root");
      const r9 = k2 << BigInt(n8 - e8 - 1), o8 = t8.pow(s7, r9);
      n8 = e8, s7 = t8.sqr(o8), c6 = t8.mul(c6, s7), a7 = t8.mul(a7, o8);
    }
    return a7;
  };
}
function et2(t7) {
  return t7 % G2 === L2 ? J2 : t7 % z2 === H2 ? Q2 : t7 % D2 === _2 ? (function(t8) {
    const e7 = it2(t8), f7 = tt2(t8), r7 = f7(e7, e7.neg(e7.ONE)), n7 = f7(e7, r7), o7 = f7(e7, e7.neg(r7)), i7 = (t8 + Y2) / D2;
    return (t9, e8) => {
      let f8 = t9.pow(e8, i7), s7 = t9.mul(f8, r7);
      const c6 = t9.mul(f8, n7), a7 = t9.mul(f8, o7), d5 = t9.eql(t9.sqr(s7), e8), u7 = t9.eql(t9.sqr(c6), e8);
      f8 = t9.cmov(f8, s7, d5), s7 = t9.cmov(a7, c6, u7);
      const l5 = t9.eql(t9.sqr(s7), e8), h6 = t9.cmov(f8, s7, l5);
      return W2(t9, h6, e8), h6;
    };
  })(t7) : tt2(t7);
}
function rt2(t7, e7, f7 = false) {
  const r7 = Array(e7.length).fill(f7 ? t7.ZERO : void 0), n7 = e7.reduce(((e8, f8, n8) => t7.is0(f8) ? e8 : (r7[n8] = e8, t7.mul(e8, f8))), t7.ONE), o7 = t7.inv(n7);
  return e7.reduceRight(((e8, f8, n8) => t7.is0(f8) ? e8 : (r7[n8] = t7.mul(e8, r7[n8]), t7.mul(e8, f8))), o7), r7;
}
function nt2(t7, e7) {
  const f7 = (t7.ORDER - k2) / j2, r7 = t7.pow(e7, f7), n7 = t7.eql(r7, t7.ONE), o7 = t7.eql(r7, t7.ZERO), i7 = t7.eql(r7, t7.neg(t7.ONE));
  if (!n7 && !o7 && !i7) throw Error("invalid Legendre symbol result");
  return n7 ? 1 : o7 ? 0 : -1;
}
function ot2(t7, e7) {
  void 0 !== e7 && i(e7);
  const f7 = void 0 !== e7 ? e7 : t7.toString(2).length;
  return { nBitLength: f7, nByteLength: Math.ceil(f7 / 8) };
}
function it2(t7, e7, f7 = false, r7 = {}) {
  if (t7 <= C2) throw Error("invalid field: expected ORDER > 0, got " + t7);
  let n7, o7, i7, s7 = false;
  if ("object" == typeof e7 && null != e7) {
    if (r7.sqrt || f7) throw Error("cannot specify opts in two arguments");
    const t8 = e7;
    t8.BITS && (n7 = t8.BITS), t8.sqrt && (o7 = t8.sqrt), "boolean" == typeof t8.isLE && (f7 = t8.isLE), "boolean" == typeof t8.modFromBytes && (s7 = t8.modFromBytes), i7 = t8.allowedLengths;
  } else "number" == typeof e7 && (n7 = e7), r7.sqrt && (o7 = r7.sqrt);
  const { nBitLength: c6, nByteLength: a7 } = ot2(t7, n7);
  if (a7 > 2048) throw Error("invalid field: expected ORDER of <= 2048 bytes");
  let d5;
  const u7 = Object.freeze({ ORDER: t7, isLE: f7, BITS: c6, BYTES: a7, MASK: U2(c6), ZERO: C2, ONE: k2, allowedLengths: i7, create: (e8) => X2(e8, t7), isValid: (e8) => {
    if ("bigint" != typeof e8) throw Error("invalid field element: expected bigint, got " + typeof e8);
    return C2 <= e8 && e8 < t7;
  }, is0: (t8) => t8 === C2, isValidNot0: (t8) => !u7.is0(t8) && u7.isValid(t8), isOdd: (t8) => (t8 & k2) === k2, neg: (e8) => X2(-e8, t7), eql: (t8, e8) => t8 === e8, sqr: (e8) => X2(e8 * e8, t7), add: (e8, f8) => X2(e8 + f8, t7), sub: (e8, f8) => X2(e8 - f8, t7), mul: (e8, f8) => X2(e8 * f8, t7), pow: (t8, e8) => (function(t9, e9, f8) {
    if (f8 < C2) throw Error("invalid exponent, negatives unsupported");
    if (f8 === C2) return t9.ONE;
    if (f8 === k2) return e9;
    let r8 = t9.ONE, n8 = e9;
    for (; f8 > C2; ) f8 & k2 && (r8 = t9.mul(r8, n8)), n8 = t9.sqr(n8), f8 >>= k2;
    return r8;
  })(u7, t8, e8), div: (e8, f8) => X2(e8 * $2(f8, t7), t7), sqrN: (t8) => t8 * t8, addN: (t8, e8) => t8 + e8, subN: (t8, e8) => t8 - e8, mulN: (t8, e8) => t8 * e8, inv: (e8) => $2(e8, t7), sqrt: o7 || ((e8) => (d5 || (d5 = et2(t7)), d5(u7, e8))), toBytes: (t8) => f7 ? A2(t8, a7) : F2(t8, a7), fromBytes: (e8, r8 = true) => {
    if (i7) {
      if (!i7.includes(e8.length) || e8.length > a7) throw Error("Field.fromBytes: expected " + i7 + " bytes, got " + e8.length);
      const t8 = new Uint8Array(a7);
      t8.set(e8, f7 ? 0 : t8.length - e8.length), e8 = t8;
    }
    if (e8.length !== a7) throw Error("Field.fromBytes: expected " + a7 + " bytes, got " + e8.length);
    let n8 = f7 ? R2(e8) : O2(e8);
    if (s7 && (n8 = X2(n8, t7)), !r8 && !u7.isValid(n8)) throw Error("invalid field element: outside of range 0..ORDER");
    return n8;
  }, invertBatch: (t8) => rt2(u7, t8), cmov: (t8, e8, f8) => f8 ? e8 : t8 });
  return Object.freeze(u7);
}
function st2(t7) {
  if ("bigint" != typeof t7) throw Error("field order must be bigint");
  const e7 = t7.toString(2).length;
  return Math.ceil(e7 / 8);
}
function ct2(t7) {
  const e7 = st2(t7);
  return e7 + Math.ceil(e7 / 2);
}
function ht2(t7, e7) {
  const f7 = e7.negate();
  return t7 ? f7 : e7;
}
function bt2(t7, e7) {
  const f7 = rt2(t7.Fp, e7.map(((t8) => t8.Z)));
  return e7.map(((e8, r7) => t7.fromAffine(e8.toAffine(f7[r7]))));
}
function gt2(t7, e7) {
  if (!Number.isSafeInteger(t7) || t7 <= 0 || t7 > e7) throw Error("invalid window size, expected [1.." + e7 + "], got W=" + t7);
}
function pt2(t7, e7) {
  gt2(t7, e7);
  const f7 = 2 ** t7;
  return { windows: Math.ceil(e7 / t7) + 1, windowSize: 2 ** (t7 - 1), mask: U2(t7), maxNumber: f7, shiftBy: BigInt(t7) };
}
function yt2(t7, e7, f7) {
  const { windowSize: r7, mask: n7, maxNumber: o7, shiftBy: i7 } = f7;
  let s7 = Number(t7 & n7), c6 = t7 >> i7;
  s7 > r7 && (s7 -= o7, c6 += lt2);
  const a7 = e7 * r7;
  return { nextN: c6, offset: a7 + Math.abs(s7) - 1, isZero: 0 === s7, isNeg: s7 < 0, isNegF: e7 % 2 != 0, offsetF: a7 };
}
function wt2(t7) {
  return Bt2.get(t7) || 1;
}
function Et2(t7) {
  if (t7 !== ut2) throw Error("invalid wNAF");
}
function vt2(t7, e7, f7, r7) {
  !(function(t8, e8) {
    if (!Array.isArray(t8)) throw Error("array expected");
    t8.forEach(((t9, f8) => {
      if (!(t9 instanceof e8)) throw Error("invalid point at index " + f8);
    }));
  })(f7, t7), (function(t8, e8) {
    if (!Array.isArray(t8)) throw Error("array of scalars expected");
    t8.forEach(((t9, f8) => {
      if (!e8.isValid(t9)) throw Error("invalid scalar at index " + f8);
    }));
  })(r7, e7);
  const n7 = f7.length, o7 = r7.length;
  if (n7 !== o7) throw Error("arrays of points and scalars must have equal length");
  const i7 = t7.ZERO, s7 = P2(BigInt(n7));
  let c6 = 1;
  s7 > 12 ? c6 = s7 - 3 : s7 > 4 ? c6 = s7 - 2 : s7 > 0 && (c6 = 2);
  const a7 = U2(c6), d5 = Array(Number(a7) + 1).fill(i7);
  let u7 = i7;
  for (let t8 = Math.floor((e7.BITS - 1) / c6) * c6; t8 >= 0; t8 -= c6) {
    d5.fill(i7);
    for (let e9 = 0; e9 < o7; e9++) {
      const n8 = r7[e9], o8 = Number(n8 >> BigInt(t8) & a7);
      d5[o8] = d5[o8].add(f7[e9]);
    }
    let e8 = i7;
    for (let t9 = d5.length - 1, f8 = i7; t9 > 0; t9--) f8 = f8.add(d5[t9]), e8 = e8.add(f8);
    if (u7 = u7.add(e8), 0 !== t8) for (let t9 = 0; t9 < c6; t9++) u7 = u7.double();
  }
  return u7;
}
function It2(t7, e7, f7) {
  if (e7) {
    if (e7.ORDER !== t7) throw Error("Field.ORDER must match order: Fp == p, Fn == n");
    return (function(t8) {
      V2(t8, ft2.reduce(((t9, e8) => (t9[e8] = "function", t9)), { ORDER: "bigint", MASK: "bigint", BYTES: "number", BITS: "number" }));
    })(e7), e7;
  }
  return it2(t7, { isLE: f7 });
}
function St(t7, e7, f7 = {}, r7) {
  if (void 0 === r7 && (r7 = "edwards" === t7), !e7 || "object" != typeof e7) throw Error(`expected valid ${t7} CURVE object`);
  for (const t8 of ["p", "n", "h"]) {
    const f8 = e7[t8];
    if (!("bigint" == typeof f8 && f8 > ut2)) throw Error(`CURVE.${t8} must be positive bigint`);
  }
  const n7 = It2(e7.p, f7.Fp, r7), o7 = It2(e7.n, f7.Fn, r7), i7 = ["Gx", "Gy", "a", "weierstrass" === t7 ? "b" : "d"];
  for (const t8 of i7) if (!n7.isValid(e7[t8])) throw Error(`CURVE.${t8} must be valid field element of CURVE.Fp`);
  return { CURVE: e7 = Object.freeze(Object.assign({}, e7)), Fp: n7, Fn: o7 };
}
function Rt(t7) {
  if (!["compact", "recovered", "der"].includes(t7)) throw Error('Signature format must be "compact", "recovered", or "der"');
  return t7;
}
function Ft2(t7, e7) {
  const f7 = {};
  for (let r7 of Object.keys(e7)) f7[r7] = void 0 === t7[r7] ? e7[r7] : t7[r7];
  return x2(f7.lowS, "lowS"), x2(f7.prehash, "prehash"), void 0 !== f7.format && Rt(f7.format), f7;
}
function Ut2(t7, e7) {
  const { BYTES: f7 } = t7;
  let r7;
  if ("bigint" == typeof e7) r7 = e7;
  else {
    let n7 = q2("private key", e7);
    try {
      r7 = t7.fromBytes(n7);
    } catch (t8) {
      throw Error(`invalid private key: expected ui8a of size ${f7}, got ${typeof e7}`);
    }
  }
  if (!t7.isValidNot0(r7)) throw Error("invalid private key: out of range [1..N-1]");
  return r7;
}
function Vt(t7, e7 = {}) {
  const r7 = St("weierstrass", t7, e7), { Fp: o7, Fn: i7 } = r7;
  let s7 = r7.CURVE;
  const { h: c6, n: a7 } = s7;
  V2(e7, {}, { allowInfinityPoint: "boolean", clearCofactor: "function", isTorsionFree: "function", fromBytes: "function", toBytes: "function", endo: "object", wrapPrivateKey: "boolean" });
  const { endo: d5 } = e7;
  if (d5 && (!o7.is0(s7.a) || "bigint" != typeof d5.beta || !Array.isArray(d5.basises))) throw Error('invalid endo: expected "beta": bigint and "basises": array');
  const u7 = Ct2(o7, i7);
  function l5() {
    if (!o7.isOdd) throw Error("compression is not supported: Field does not have .isOdd()");
  }
  const h6 = e7.toBytes || function(t8, e8, f7) {
    const { x: r8, y: i8 } = e8.toAffine(), s8 = o7.toBytes(r8);
    if (x2(f7, "isCompressed"), f7) {
      l5();
      const t9 = !o7.isOdd(i8);
      return k(Tt(t9), s8);
    }
    return k(Uint8Array.of(4), s8, o7.toBytes(i8));
  }, b5 = e7.fromBytes || function(t8) {
    v2(t8, void 0, "Point");
    const { publicKey: e8, publicKeyUncompressed: f7 } = u7, r8 = t8.length, n7 = t8[0], i8 = t8.subarray(1);
    if (r8 !== e8 || 2 !== n7 && 3 !== n7) {
      if (r8 === f7 && 4 === n7) {
        const t9 = o7.BYTES, e9 = o7.fromBytes(i8.subarray(0, t9)), f8 = o7.fromBytes(i8.subarray(t9, 2 * t9));
        if (!p4(e9, f8)) throw Error("bad point: is not on curve");
        return { x: e9, y: f8 };
      }
      throw Error(`bad point: got length ${r8}, expected compressed=${e8} or uncompressed=${f7}`);
    }
    {
      const t9 = o7.fromBytes(i8);
      if (!o7.isValid(t9)) throw Error("bad point: is not on curve, wrong x");
      const e9 = g6(t9);
      let f8;
      try {
        f8 = o7.sqrt(e9);
      } catch (t10) {
        const e10 = t10 instanceof Error ? ": " + t10.message : "";
        throw Error("bad point: is not on curve, sqrt error" + e10);
      }
      l5();
      return !(1 & ~n7) !== o7.isOdd(f8) && (f8 = o7.neg(f8)), { x: t9, y: f8 };
    }
  };
  function g6(t8) {
    const e8 = o7.sqr(t8), f7 = o7.mul(e8, t8);
    return o7.add(o7.add(f7, o7.mul(t8, s7.a)), s7.b);
  }
  function p4(t8, e8) {
    const f7 = o7.sqr(e8), r8 = g6(t8);
    return o7.eql(f7, r8);
  }
  if (!p4(s7.Gx, s7.Gy)) throw Error("bad curve params: generator point");
  const y7 = o7.mul(o7.pow(s7.a, Nt2), Pt), m5 = o7.mul(o7.sqr(s7.b), BigInt(27));
  if (o7.is0(o7.add(y7, m5))) throw Error("bad curve params: a or b");
  function B6(t8, e8, f7 = false) {
    if (!o7.isValid(e8) || f7 && o7.is0(e8)) throw Error("bad point coordinate " + t8);
    return e8;
  }
  function w7(t8) {
    if (!(t8 instanceof R6)) throw Error("ProjectivePoint expected");
  }
  function E7(t8) {
    if (!d5 || !d5.basises) throw Error("no endo");
    return (function(t9, e8, f7) {
      const [[r8, n7], [o8, i8]] = e8, s8 = Ot2(i8 * t9, f7), c7 = Ot2(-n7 * t9, f7);
      let a8 = t9 - s8 * r8 - c7 * o8, d6 = -s8 * n7 - c7 * i8;
      const u8 = a8 < qt, l6 = d6 < qt;
      u8 && (a8 = -a8), l6 && (d6 = -d6);
      const h7 = U2(Math.ceil(P2(f7) / 2)) + Zt;
      if (a8 < qt || a8 >= h7 || d6 < qt || d6 >= h7) throw Error("splitScalar (endomorphism): failed, k=" + t9);
      return { k1neg: u8, k1: a8, k2neg: l6, k2: d6 };
    })(t8, d5.basises, i7.ORDER);
  }
  const I7 = T2(((t8, e8) => {
    const { X: f7, Y: r8, Z: n7 } = t8;
    if (o7.eql(n7, o7.ONE)) return { x: f7, y: r8 };
    const i8 = t8.is0();
    null == e8 && (e8 = i8 ? o7.ONE : o7.inv(n7));
    const s8 = o7.mul(f7, e8), c7 = o7.mul(r8, e8), a8 = o7.mul(n7, e8);
    if (i8) return { x: o7.ZERO, y: o7.ZERO };
    if (!o7.eql(a8, o7.ONE)) throw Error("invZ was invalid");
    return { x: s8, y: c7 };
  })), S6 = T2(((t8) => {
    if (t8.is0()) {
      if (e7.allowInfinityPoint && !o7.is0(t8.Y)) return;
      throw Error("bad point: ZERO");
    }
    const { x: f7, y: r8 } = t8.toAffine();
    if (!o7.isValid(f7) || !o7.isValid(r8)) throw Error("bad point: x or y not field elements");
    if (!p4(f7, r8)) throw Error("bad point: equation left != right");
    if (!t8.isTorsionFree()) throw Error("bad point: not in prime-order subgroup");
    return true;
  }));
  function O5(t8, e8, f7, r8, n7) {
    return f7 = new R6(o7.mul(f7.X, t8), f7.Y, f7.Z), e8 = ht2(r8, e8), f7 = ht2(n7, f7), e8.add(f7);
  }
  class R6 {
    constructor(t8, e8, f7) {
      this.X = B6("x", t8), this.Y = B6("y", e8, true), this.Z = B6("z", f7), Object.freeze(this);
    }
    static CURVE() {
      return s7;
    }
    static fromAffine(t8) {
      const { x: e8, y: f7 } = t8 || {};
      if (!t8 || !o7.isValid(e8) || !o7.isValid(f7)) throw Error("invalid affine point");
      if (t8 instanceof R6) throw Error("projective point not allowed");
      return o7.is0(e8) && o7.is0(f7) ? R6.ZERO : new R6(e8, f7, o7.ONE);
    }
    static fromBytes(t8) {
      const e8 = R6.fromAffine(b5(v2(t8, void 0, "point")));
      return e8.assertValidity(), e8;
    }
    static fromHex(t8) {
      return R6.fromBytes(q2("pointHex", t8));
    }
    get x() {
      return this.toAffine().x;
    }
    get y() {
      return this.toAffine().y;
    }
    precompute(t8 = 8, e8 = true) {
      return A7.createCache(this, t8), e8 || this.multiply(Nt2), this;
    }
    assertValidity() {
      S6(this);
    }
    hasEvenY() {
      const { y: t8 } = this.toAffine();
      if (!o7.isOdd) throw Error("Field doesn't support isOdd");
      return !o7.isOdd(t8);
    }
    equals(t8) {
      w7(t8);
      const { X: e8, Y: f7, Z: r8 } = this, { X: n7, Y: i8, Z: s8 } = t8, c7 = o7.eql(o7.mul(e8, s8), o7.mul(n7, r8)), a8 = o7.eql(o7.mul(f7, s8), o7.mul(i8, r8));
      return c7 && a8;
    }
    negate() {
      return new R6(this.X, o7.neg(this.Y), this.Z);
    }
    double() {
      const { a: t8, b: e8 } = s7, f7 = o7.mul(e8, Nt2), { X: r8, Y: n7, Z: i8 } = this;
      let c7 = o7.ZERO, a8 = o7.ZERO, d6 = o7.ZERO, u8 = o7.mul(r8, r8), l6 = o7.mul(n7, n7), h7 = o7.mul(i8, i8), b6 = o7.mul(r8, n7);
      return b6 = o7.add(b6, b6), d6 = o7.mul(r8, i8), d6 = o7.add(d6, d6), c7 = o7.mul(t8, d6), a8 = o7.mul(f7, h7), a8 = o7.add(c7, a8), c7 = o7.sub(l6, a8), a8 = o7.add(l6, a8), a8 = o7.mul(c7, a8), c7 = o7.mul(b6, c7), d6 = o7.mul(f7, d6), h7 = o7.mul(t8, h7), b6 = o7.sub(u8, h7), b6 = o7.mul(t8, b6), b6 = o7.add(b6, d6), d6 = o7.add(u8, u8), u8 = o7.add(d6, u8), u8 = o7.add(u8, h7), u8 = o7.mul(u8, b6), a8 = o7.add(a8, u8), h7 = o7.mul(n7, i8), h7 = o7.add(h7, h7), u8 = o7.mul(h7, b6), c7 = o7.sub(c7, u8), d6 = o7.mul(h7, l6), d6 = o7.add(d6, d6), d6 = o7.add(d6, d6), new R6(c7, a8, d6);
    }
    add(t8) {
      w7(t8);
      const { X: e8, Y: f7, Z: r8 } = this, { X: n7, Y: i8, Z: c7 } = t8;
      let a8 = o7.ZERO, d6 = o7.ZERO, u8 = o7.ZERO;
      const l6 = s7.a, h7 = o7.mul(s7.b, Nt2);
      let b6 = o7.mul(e8, n7), g7 = o7.mul(f7, i8), p5 = o7.mul(r8, c7), y8 = o7.add(e8, f7), m6 = o7.add(n7, i8);
      y8 = o7.mul(y8, m6), m6 = o7.add(b6, g7), y8 = o7.sub(y8, m6), m6 = o7.add(e8, r8);
      let B7 = o7.add(n7, c7);
      return m6 = o7.mul(m6, B7), B7 = o7.add(b6, p5), m6 = o7.sub(m6, B7), B7 = o7.add(f7, r8), a8 = o7.add(i8, c7), B7 = o7.mul(B7, a8), a8 = o7.add(g7, p5), B7 = o7.sub(B7, a8), u8 = o7.mul(l6, m6), a8 = o7.mul(h7, p5), u8 = o7.add(a8, u8), a8 = o7.sub(g7, u8), u8 = o7.add(g7, u8), d6 = o7.mul(a8, u8), g7 = o7.add(b6, b6), g7 = o7.add(g7, b6), p5 = o7.mul(l6, p5), m6 = o7.mul(h7, m6), g7 = o7.add(g7, p5), p5 = o7.sub(b6, p5), p5 = o7.mul(l6, p5), m6 = o7.add(m6, p5), b6 = o7.mul(g7, m6), d6 = o7.add(d6, b6), b6 = o7.mul(B7, m6), a8 = o7.mul(y8, a8), a8 = o7.sub(a8, b6), b6 = o7.mul(y8, g7), u8 = o7.mul(B7, u8), u8 = o7.add(u8, b6), new R6(a8, d6, u8);
    }
    subtract(t8) {
      return this.add(t8.negate());
    }
    is0() {
      return this.equals(R6.ZERO);
    }
    multiply(t8) {
      const { endo: f7 } = e7;
      if (!i7.isValidNot0(t8)) throw Error("invalid scalar: out of range");
      let r8, n7;
      const o8 = (t9) => A7.cached(this, t9, ((t10) => bt2(R6, t10)));
      if (f7) {
        const { k1neg: e8, k1: i8, k2neg: s8, k2: c7 } = E7(t8), { p: a8, f: d6 } = o8(i8), { p: u8, f: l6 } = o8(c7);
        n7 = d6.add(l6), r8 = O5(f7.beta, a8, u8, e8, s8);
      } else {
        const { p: e8, f: f8 } = o8(t8);
        r8 = e8, n7 = f8;
      }
      return bt2(R6, [r8, n7])[0];
    }
    multiplyUnsafe(t8) {
      const { endo: f7 } = e7, r8 = this;
      if (!i7.isValid(t8)) throw Error("invalid scalar: out of range");
      if (t8 === qt || r8.is0()) return R6.ZERO;
      if (t8 === Zt) return r8;
      if (A7.hasCache(this)) return this.multiply(t8);
      if (f7) {
        const { k1neg: e8, k1: n7, k2neg: o8, k2: i8 } = E7(t8), { p1: s8, p2: c7 } = (function(t9, e9, f8, r9) {
          let n8 = e9, o9 = t9.ZERO, i9 = t9.ZERO;
          for (; f8 > ut2 || r9 > ut2; ) f8 & lt2 && (o9 = o9.add(n8)), r9 & lt2 && (i9 = i9.add(n8)), n8 = n8.double(), f8 >>= lt2, r9 >>= lt2;
          return { p1: o9, p2: i9 };
        })(R6, r8, n7, i8);
        return O5(f7.beta, s8, c7, e8, o8);
      }
      return A7.unsafe(r8, t8);
    }
    multiplyAndAddUnsafe(t8, e8, f7) {
      const r8 = this.multiplyUnsafe(e8).add(t8.multiplyUnsafe(f7));
      return r8.is0() ? void 0 : r8;
    }
    toAffine(t8) {
      return I7(this, t8);
    }
    isTorsionFree() {
      const { isTorsionFree: t8 } = e7;
      return c6 === Zt || (t8 ? t8(R6, this) : A7.unsafe(this, a7).is0());
    }
    clearCofactor() {
      const { clearCofactor: t8 } = e7;
      return c6 === Zt ? this : t8 ? t8(R6, this) : this.multiplyUnsafe(c6);
    }
    isSmallOrder() {
      return this.multiplyUnsafe(c6).is0();
    }
    toBytes(t8 = true) {
      return x2(t8, "isCompressed"), this.assertValidity(), h6(R6, this, t8);
    }
    toHex(t8 = true) {
      return x(this.toBytes(t8));
    }
    toString() {
      return `<Point ${this.is0() ? "ZERO" : this.toHex()}>`;
    }
    get px() {
      return this.X;
    }
    get py() {
      return this.X;
    }
    get pz() {
      return this.Z;
    }
    toRawBytes(t8 = true) {
      return this.toBytes(t8);
    }
    _setWindowSize(t8) {
      this.precompute(t8);
    }
    static normalizeZ(t8) {
      return bt2(R6, t8);
    }
    static msm(t8, e8) {
      return vt2(R6, i7, t8, e8);
    }
    static fromPrivateKey(t8) {
      return R6.BASE.multiply(Ut2(i7, t8));
    }
  }
  R6.BASE = new R6(s7.Gx, s7.Gy, o7.ONE), R6.ZERO = new R6(o7.ZERO, o7.ONE, o7.ZERO), R6.Fp = o7, R6.Fn = i7;
  const F6 = i7.BITS, A7 = new xt2(R6, e7.endo ? Math.ceil(F6 / 2) : F6);
  return R6.BASE.precompute(8), R6;
}
function Tt(t7) {
  return Uint8Array.of(t7 ? 2 : 3);
}
function Ct2(t7, e7) {
  return { secretKey: e7.BYTES, publicKey: 1 + t7.BYTES, publicKeyUncompressed: 1 + 2 * t7.BYTES, publicKeyHasPrefix: true, signature: 2 * e7.BYTES };
}
function kt2(t7, e7 = {}) {
  const { Fn: f7 } = t7, r7 = e7.randomBytes || C, n7 = Object.assign(Ct2(t7.Fp, f7), { seed: ct2(f7.ORDER) });
  function o7(t8) {
    try {
      return !!Ut2(f7, t8);
    } catch (t9) {
      return false;
    }
  }
  function i7(t8 = r7(n7.seed)) {
    return (function(t9, e8, f8 = false) {
      const r8 = t9.length, n8 = st2(e8), o8 = ct2(e8);
      if (r8 < 16 || r8 < o8 || r8 > 1024) throw Error("expected " + o8 + "-1024 bytes of input, got " + r8);
      const i8 = X2(f8 ? R2(t9) : O2(t9), e8 - k2) + k2;
      return f8 ? A2(i8, n8) : F2(i8, n8);
    })(v2(t8, n7.seed, "seed"), f7.ORDER);
  }
  function s7(e8, r8 = true) {
    return t7.BASE.multiply(Ut2(f7, e8)).toBytes(r8);
  }
  function c6(e8) {
    if ("bigint" == typeof e8) return false;
    if (e8 instanceof t7) return true;
    const { secretKey: r8, publicKey: o8, publicKeyUncompressed: i8 } = n7;
    if (f7.allowedLengths || r8 === o8) return;
    const s8 = q2("key", e8).length;
    return s8 === o8 || s8 === i8;
  }
  const a7 = { isValidSecretKey: o7, isValidPublicKey: function(e8, f8) {
    const { publicKey: r8, publicKeyUncompressed: o8 } = n7;
    try {
      const n8 = e8.length;
      return (true !== f8 || n8 === r8) && ((false !== f8 || n8 === o8) && !!t7.fromBytes(e8));
    } catch (t8) {
      return false;
    }
  }, randomSecretKey: i7, isValidPrivateKey: o7, randomPrivateKey: i7, normPrivateKeyToScalar: (t8) => Ut2(f7, t8), precompute: (e8 = 8, f8 = t7.BASE) => f8.precompute(e8, false) };
  return Object.freeze({ getPublicKey: s7, getSharedSecret: function(e8, r8, n8 = true) {
    if (true === c6(e8)) throw Error("first arg must be private key");
    if (false === c6(r8)) throw Error("second arg must be public key");
    const o8 = Ut2(f7, e8);
    return t7.fromHex(r8).multiply(o8).toBytes(n8);
  }, keygen: function(t8) {
    const e8 = i7(t8);
    return { secretKey: e8, publicKey: s7(e8) };
  }, Point: t7, utils: a7, lengths: n7 });
}
function jt(e7, o7, i7 = {}) {
  r(o7), V2(i7, {}, { hmac: "function", lowS: "boolean", randomBytes: "function", bits2int: "function", bits2int_modN: "function" });
  const c6 = i7.randomBytes || C, a7 = i7.hmac || ((t7, ...e8) => dt2(o7, t7, k(...e8))), { Fp: d5, Fn: l5 } = e7, { ORDER: h6, BITS: b5 } = l5, { keygen: g6, getPublicKey: p4, getSharedSecret: y7, utils: m5, lengths: B6 } = kt2(e7, i7), w7 = { prehash: false, lowS: "boolean" == typeof i7.lowS && i7.lowS, format: void 0, extraEntropy: false }, E7 = "compact";
  function x6(t7) {
    return t7 > h6 >> Zt;
  }
  function I7(t7, e8) {
    if (!l5.isValidNot0(e8)) throw Error(`invalid signature ${t7}: out of range 1..Point.Fn.ORDER`);
    return e8;
  }
  class S6 {
    constructor(t7, e8, f7) {
      this.r = I7("r", t7), this.s = I7("s", e8), null != f7 && (this.recovery = f7), Object.freeze(this);
    }
    static fromBytes(t7, e8 = E7) {
      let f7;
      if ((function(t8, e9) {
        Rt(e9);
        const f8 = B6.signature;
        v2(t8, "compact" === e9 ? f8 : "recovered" === e9 ? f8 + 1 : void 0, e9 + " signature");
      })(t7, e8), "der" === e8) {
        const { r: e9, s: f8 } = At2.toSig(v2(t7));
        return new S6(e9, f8);
      }
      "recovered" === e8 && (f7 = t7[0], e8 = "compact", t7 = t7.subarray(1));
      const r7 = l5.BYTES, n7 = t7.subarray(0, r7), o8 = t7.subarray(r7, 2 * r7);
      return new S6(l5.fromBytes(n7), l5.fromBytes(o8), f7);
    }
    static fromHex(e8, f7) {
      return this.fromBytes(B(e8), f7);
    }
    addRecoveryBit(t7) {
      return new S6(this.r, this.s, t7);
    }
    recoverPublicKey(t7) {
      const f7 = d5.ORDER, { r: r7, s: o8, recovery: i8 } = this;
      if (null == i8 || ![0, 1, 2, 3].includes(i8)) throw Error("recovery id invalid");
      if (h6 * Kt < f7 && i8 > 1) throw Error("recovery id is ambiguous for h>1 curve");
      const s7 = 2 === i8 || 3 === i8 ? r7 + h6 : r7;
      if (!d5.isValid(s7)) throw Error("recovery id 2 or 3 invalid");
      const c7 = d5.toBytes(s7), a8 = e7.fromBytes(k(Tt(!(1 & i8)), c7)), u7 = l5.inv(s7), b6 = F6(q2("msgHash", t7)), g7 = l5.create(-b6 * u7), p5 = l5.create(o8 * u7), y8 = e7.BASE.multiplyUnsafe(g7).add(a8.multiplyUnsafe(p5));
      if (y8.is0()) throw Error("point at infinify");
      return y8.assertValidity(), y8;
    }
    hasHighS() {
      return x6(this.s);
    }
    toBytes(e8 = E7) {
      if (Rt(e8), "der" === e8) return B(At2.hexFromSig(this));
      const f7 = l5.toBytes(this.r), r7 = l5.toBytes(this.s);
      if ("recovered" === e8) {
        if (null == this.recovery) throw Error("recovery bit must be present");
        return k(Uint8Array.of(this.recovery), f7, r7);
      }
      return k(f7, r7);
    }
    toHex(t7) {
      return x(this.toBytes(t7));
    }
    assertValidity() {
    }
    static fromCompact(t7) {
      return S6.fromBytes(q2("sig", t7), "compact");
    }
    static fromDER(t7) {
      return S6.fromBytes(q2("sig", t7), "der");
    }
    normalizeS() {
      return this.hasHighS() ? new S6(this.r, l5.neg(this.s), this.recovery) : this;
    }
    toDERRawBytes() {
      return this.toBytes("der");
    }
    toDERHex() {
      return x(this.toBytes("der"));
    }
    toCompactRawBytes() {
      return this.toBytes("compact");
    }
    toCompactHex() {
      return x(this.toBytes("compact"));
    }
  }
  const R6 = i7.bits2int || function(t7) {
    if (t7.length > 8192) throw Error("input is too large");
    const e8 = O2(t7), f7 = 8 * t7.length - b5;
    return f7 > 0 ? e8 >> BigInt(f7) : e8;
  }, F6 = i7.bits2int_modN || function(t7) {
    return l5.create(R6(t7));
  }, A7 = U2(b5);
  function Z4(t7) {
    return N2("num < 2^" + b5, t7, qt, A7), l5.toBytes(t7);
  }
  function K5(t7, e8) {
    return v2(t7, void 0, "message"), e8 ? v2(o7(t7), void 0, "prehashed message") : t7;
  }
  return Object.freeze({ keygen: g6, getPublicKey: p4, getSharedSecret: y7, utils: m5, lengths: B6, Point: e7, sign: function(t7, f7, r7 = {}) {
    t7 = q2("message", t7);
    const { seed: i8, k2sig: s7 } = (function(t8, f8, r8) {
      if (["recovered", "canonical"].some(((t9) => t9 in r8))) throw Error("sign() legacy options not supported");
      const { lowS: o8, prehash: i9, extraEntropy: s8 } = Ft2(r8, w7);
      t8 = K5(t8, i9);
      const a8 = F6(t8), d6 = Ut2(l5, f8), u7 = [Z4(d6), Z4(a8)];
      if (null != s8 && false !== s8) {
        const t9 = true === s8 ? c6(B6.secretKey) : s8;
        u7.push(q2("extraEntropy", t9));
      }
      const h7 = k(...u7), b6 = a8;
      return { seed: h7, k2sig: function(t9) {
        const f9 = R6(t9);
        if (!l5.isValidNot0(f9)) return;
        const r9 = l5.inv(f9), n7 = e7.BASE.multiply(f9).toAffine(), i10 = l5.create(n7.x);
        if (i10 === qt) return;
        const s9 = l5.create(r9 * l5.create(b6 + i10 * d6));
        if (s9 === qt) return;
        let c7 = (n7.x === i10 ? 0 : 2) | Number(n7.y & Zt), a9 = s9;
        return o8 && x6(s9) && (a9 = l5.neg(s9), c7 ^= 1), new S6(i10, a9, c7);
      } };
    })(t7, f7, r7);
    return (function(t8, e8, f8) {
      if ("number" != typeof t8 || t8 < 2) throw Error("hashLen must be a number");
      if ("number" != typeof e8 || e8 < 2) throw Error("qByteLen must be a number");
      if ("function" != typeof f8) throw Error("hmacFn must be a function");
      const r8 = (t9) => new Uint8Array(t9), o8 = (t9) => Uint8Array.of(t9);
      let i9 = r8(t8), s8 = r8(t8), c7 = 0;
      const a8 = () => {
        i9.fill(1), s8.fill(0), c7 = 0;
      }, d6 = (...t9) => f8(s8, i9, ...t9), u7 = (t9 = r8(0)) => {
        s8 = d6(o8(0), t9), i9 = d6(), 0 !== t9.length && (s8 = d6(o8(1), t9), i9 = d6());
      }, l6 = () => {
        if (c7++ >= 1e3) throw Error("drbg: tried 1000 values");
        let t9 = 0;
        const f9 = [];
        for (; t9 < e8; ) {
          i9 = d6();
          const e9 = i9.slice();
          f9.push(e9), t9 += i9.length;
        }
        return k(...f9);
      };
      return (t9, e9) => {
        let f9;
        for (a8(), u7(t9); !(f9 = e9(l6())); ) u7();
        return a8(), f9;
      };
    })(o7.outputLen, l5.BYTES, a7)(i8, s7);
  }, verify: function(t7, f7, n7, o8 = {}) {
    const { lowS: i8, prehash: s7, format: c7 } = Ft2(o8, w7);
    if (n7 = q2("publicKey", n7), f7 = K5(q2("message", f7), s7), "strict" in o8) throw Error("options.strict was renamed to lowS");
    const a8 = void 0 === c7 ? (function(t8) {
      let e8;
      const f8 = "string" == typeof t8 || s(t8), n8 = !f8 && null !== t8 && "object" == typeof t8 && "bigint" == typeof t8.r && "bigint" == typeof t8.s;
      if (!f8 && !n8) throw Error("invalid signature, expected Uint8Array, hex string or Signature instance");
      if (n8) e8 = new S6(t8.r, t8.s);
      else if (f8) {
        try {
          e8 = S6.fromBytes(q2("sig", t8), "der");
        } catch (t9) {
          if (!(t9 instanceof At2.Err)) throw t9;
        }
        if (!e8) try {
          e8 = S6.fromBytes(q2("sig", t8), "compact");
        } catch (t9) {
          return false;
        }
      }
      return e8 || false;
    })(t7) : S6.fromBytes(q2("sig", t7), c7);
    if (false === a8) return false;
    try {
      const t8 = e7.fromBytes(n7);
      if (i8 && a8.hasHighS()) return false;
      const { r: r7, s: o9 } = a8, s8 = F6(f7), c8 = l5.inv(o9), d6 = l5.create(s8 * c8), u7 = l5.create(r7 * c8), h7 = e7.BASE.multiplyUnsafe(d6).add(t8.multiplyUnsafe(u7));
      if (h7.is0()) return false;
      return l5.create(h7.x) === r7;
    } catch (t8) {
      return false;
    }
  }, recoverPublicKey: function(t7, e8, f7 = {}) {
    const { prehash: r7 } = Ft2(f7, w7);
    return e8 = K5(e8, r7), S6.fromBytes(t7, "recovered").recoverPublicKey(e8).toBytes();
  }, Signature: S6, hash: o7 });
}
function Lt2(t7) {
  const { CURVE: e7, curveOpts: f7 } = (function(t8) {
    const e8 = { a: t8.a, b: t8.b, p: t8.Fp.ORDER, n: t8.n, h: t8.h, Gx: t8.Gx, Gy: t8.Gy }, f8 = t8.Fp;
    let r8 = t8.allowedPrivateKeyLengths ? Array.from(new Set(t8.allowedPrivateKeyLengths.map(((t9) => Math.ceil(t9 / 2))))) : void 0;
    return { CURVE: e8, curveOpts: { Fp: f8, Fn: it2(e8.n, { BITS: t8.nBitLength, allowedLengths: r8, modFromBytes: t8.wrapPrivateKey }), allowInfinityPoint: t8.allowInfinityPoint, endo: t8.endo, isTorsionFree: t8.isTorsionFree, clearCofactor: t8.clearCofactor, fromBytes: t8.fromBytes, toBytes: t8.toBytes } };
  })(t7), r7 = { hmac: t7.hmac, randomBytes: t7.randomBytes, lowS: t7.lowS, bits2int: t7.bits2int, bits2int_modN: t7.bits2int_modN };
  return { CURVE: e7, curveOpts: f7, hash: t7.hash, ecdsaOpts: r7 };
}
function Gt2(t7) {
  const { CURVE: e7, curveOpts: f7, hash: r7, ecdsaOpts: n7 } = Lt2(t7);
  return (function(t8, e8) {
    const f8 = e8.Point;
    return Object.assign({}, e8, { ProjectivePoint: f8, CURVE: Object.assign({}, t8, ot2(f8.Fn.ORDER, f8.Fn.BITS)) });
  })(t7, jt(Vt(e7, f7), r7, n7));
}
function Ht2(t7, e7) {
  const f7 = (e8) => Gt2({ ...t7, hash: e8 });
  return { ...f7(e7), create: f7 };
}
function re(t7, e7 = {}) {
  const r7 = St("edwards", t7, e7, e7.FpFnLE), { Fp: n7, Fn: o7 } = r7;
  let i7 = r7.CURVE;
  const { h: s7 } = i7;
  V2(e7, {}, { uvRatio: "function" });
  const c6 = ee << BigInt(8 * o7.BYTES) - te, a7 = (t8) => n7.create(t8), d5 = e7.uvRatio || ((t8, e8) => {
    try {
      return { isValid: true, value: n7.sqrt(n7.div(t8, e8)) };
    } catch (t9) {
      return { isValid: false, value: Qt };
    }
  });
  if (!(function(t8, e8, f7, r8) {
    const n8 = t8.sqr(f7), o8 = t8.sqr(r8), i8 = t8.add(t8.mul(e8.a, n8), o8), s8 = t8.add(t8.ONE, t8.mul(e8.d, t8.mul(n8, o8)));
    return t8.eql(i8, s8);
  })(n7, i7, i7.Gx, i7.Gy)) throw Error("bad curve params: generator point");
  function u7(t8, e8, f7 = false) {
    return N2("coordinate " + t8, e8, f7 ? te : Qt, c6), e8;
  }
  function l5(t8) {
    if (!(t8 instanceof g6)) throw Error("ExtendedPoint expected");
  }
  const h6 = T2(((t8, e8) => {
    const { X: f7, Y: r8, Z: o8 } = t8, i8 = t8.is0();
    null == e8 && (e8 = i8 ? fe : n7.inv(o8));
    const s8 = a7(f7 * e8), c7 = a7(r8 * e8), d6 = n7.mul(o8, e8);
    if (i8) return { x: Qt, y: te };
    if (d6 !== te) throw Error("invZ was invalid");
    return { x: s8, y: c7 };
  })), b5 = T2(((t8) => {
    const { a: e8, d: f7 } = i7;
    if (t8.is0()) throw Error("bad point: ZERO");
    const { X: r8, Y: n8, Z: o8, T: s8 } = t8, c7 = a7(r8 * r8), d6 = a7(n8 * n8), u8 = a7(o8 * o8), l6 = a7(u8 * u8), h7 = a7(c7 * e8);
    if (a7(u8 * a7(h7 + d6)) !== a7(l6 + a7(f7 * a7(c7 * d6)))) throw Error("bad point: equation left != right (1)");
    if (a7(r8 * n8) !== a7(o8 * s8)) throw Error("bad point: equation left != right (2)");
    return true;
  }));
  class g6 {
    constructor(t8, e8, f7, r8) {
      this.X = u7("x", t8), this.Y = u7("y", e8), this.Z = u7("z", f7, true), this.T = u7("t", r8), Object.freeze(this);
    }
    static CURVE() {
      return i7;
    }
    static fromAffine(t8) {
      if (t8 instanceof g6) throw Error("extended point not allowed");
      const { x: e8, y: f7 } = t8 || {};
      return u7("x", e8), u7("y", f7), new g6(e8, f7, te, a7(e8 * f7));
    }
    static fromBytes(t8, e8 = false) {
      const f7 = n7.BYTES, { a: r8, d: o8 } = i7;
      t8 = Z2(v2(t8, f7, "point")), x2(e8, "zip215");
      const s8 = Z2(t8), u8 = t8[f7 - 1];
      s8[f7 - 1] = -129 & u8;
      const l6 = R2(s8), h7 = e8 ? c6 : n7.ORDER;
      N2("point.y", l6, Qt, h7);
      const b6 = a7(l6 * l6), p5 = a7(b6 - te), y7 = a7(o8 * b6 - r8);
      let { isValid: m5, value: B6 } = d5(p5, y7);
      if (!m5) throw Error("bad point: invalid y coordinate");
      const w7 = (B6 & te) === te, E7 = !!(128 & u8);
      if (!e8 && B6 === Qt && E7) throw Error("bad point: x=0 and x_0=1");
      return E7 !== w7 && (B6 = a7(-B6)), g6.fromAffine({ x: B6, y: l6 });
    }
    static fromHex(t8, e8 = false) {
      return g6.fromBytes(q2("point", t8), e8);
    }
    get x() {
      return this.toAffine().x;
    }
    get y() {
      return this.toAffine().y;
    }
    precompute(t8 = 8, e8 = true) {
      return p4.createCache(this, t8), e8 || this.multiply(ee), this;
    }
    assertValidity() {
      b5(this);
    }
    equals(t8) {
      l5(t8);
      const { X: e8, Y: f7, Z: r8 } = this, { X: n8, Y: o8, Z: i8 } = t8, s8 = a7(e8 * i8), c7 = a7(n8 * r8), d6 = a7(f7 * i8), u8 = a7(o8 * r8);
      return s8 === c7 && d6 === u8;
    }
    is0() {
      return this.equals(g6.ZERO);
    }
    negate() {
      return new g6(a7(-this.X), this.Y, this.Z, a7(-this.T));
    }
    double() {
      const { a: t8 } = i7, { X: e8, Y: f7, Z: r8 } = this, n8 = a7(e8 * e8), o8 = a7(f7 * f7), s8 = a7(ee * a7(r8 * r8)), c7 = a7(t8 * n8), d6 = e8 + f7, u8 = a7(a7(d6 * d6) - n8 - o8), l6 = c7 + o8, h7 = l6 - s8, b6 = c7 - o8, p5 = a7(u8 * h7), y7 = a7(l6 * b6), m5 = a7(u8 * b6), B6 = a7(h7 * l6);
      return new g6(p5, y7, B6, m5);
    }
    add(t8) {
      l5(t8);
      const { a: e8, d: f7 } = i7, { X: r8, Y: n8, Z: o8, T: s8 } = this, { X: c7, Y: d6, Z: u8, T: h7 } = t8, b6 = a7(r8 * c7), p5 = a7(n8 * d6), y7 = a7(s8 * f7 * h7), m5 = a7(o8 * u8), B6 = a7((r8 + n8) * (c7 + d6) - b6 - p5), w7 = m5 - y7, E7 = m5 + y7, x6 = a7(p5 - e8 * b6), v6 = a7(B6 * w7), I7 = a7(E7 * x6), S6 = a7(B6 * x6), O5 = a7(w7 * E7);
      return new g6(v6, I7, O5, S6);
    }
    subtract(t8) {
      return this.add(t8.negate());
    }
    multiply(t8) {
      if (!o7.isValidNot0(t8)) throw Error("invalid scalar: expected 1 <= sc < curve.n");
      const { p: e8, f: f7 } = p4.cached(this, t8, ((t9) => bt2(g6, t9)));
      return bt2(g6, [e8, f7])[0];
    }
    multiplyUnsafe(t8, e8 = g6.ZERO) {
      if (!o7.isValid(t8)) throw Error("invalid scalar: expected 0 <= sc < curve.n");
      return t8 === Qt ? g6.ZERO : this.is0() || t8 === te ? this : p4.unsafe(this, t8, ((t9) => bt2(g6, t9)), e8);
    }
    isSmallOrder() {
      return this.multiplyUnsafe(s7).is0();
    }
    isTorsionFree() {
      return p4.unsafe(this, i7.n).is0();
    }
    toAffine(t8) {
      return h6(this, t8);
    }
    clearCofactor() {
      return s7 === te ? this : this.multiplyUnsafe(s7);
    }
    toBytes() {
      const { x: t8, y: e8 } = this.toAffine(), f7 = n7.toBytes(e8);
      return f7[f7.length - 1] |= t8 & te ? 128 : 0, f7;
    }
    toHex() {
      return x(this.toBytes());
    }
    toString() {
      return `<Point ${this.is0() ? "ZERO" : this.toHex()}>`;
    }
    get ex() {
      return this.X;
    }
    get ey() {
      return this.Y;
    }
    get ez() {
      return this.Z;
    }
    get et() {
      return this.T;
    }
    static normalizeZ(t8) {
      return bt2(g6, t8);
    }
    static msm(t8, e8) {
      return vt2(g6, o7, t8, e8);
    }
    _setWindowSize(t8) {
      this.precompute(t8);
    }
    toRawBytes() {
      return this.toBytes();
    }
  }
  g6.BASE = new g6(i7.Gx, i7.Gy, te, a7(i7.Gx * i7.Gy)), g6.ZERO = new g6(Qt, te, te, Qt), g6.Fp = n7, g6.Fn = o7;
  const p4 = new xt2(g6, o7.BITS);
  return g6.BASE.precompute(8), g6;
}
function ne(t7, e7, f7 = {}) {
  if ("function" != typeof e7) throw Error('"hash" function param is required');
  V2(f7, {}, { adjustScalarBytes: "function", randomBytes: "function", domain: "function", prehash: "function", mapToCurve: "function" });
  const { prehash: o7 } = f7, { BASE: i7, Fp: s7, Fn: c6 } = t7, a7 = f7.randomBytes || C, d5 = f7.adjustScalarBytes || ((t8) => t8), l5 = f7.domain || ((t8, e8, f8) => {
    if (x2(f8, "phflag"), e8.length || f8) throw Error("Contexts/pre-hash are not supported");
    return t8;
  });
  function h6(t8) {
    return c6.create(R2(t8));
  }
  function b5(t8) {
    const { head: f8, prefix: r7, scalar: n7 } = (function(t9) {
      const f9 = B6.secretKey;
      t9 = q2("private key", t9, f9);
      const r8 = q2("hashed private key", e7(t9), 2 * f9), n8 = d5(r8.slice(0, f9));
      return { head: n8, prefix: r8.slice(f9, 2 * f9), scalar: h6(n8) };
    })(t8), o8 = i7.multiply(n7), s8 = o8.toBytes();
    return { head: f8, prefix: r7, scalar: n7, point: o8, pointBytes: s8 };
  }
  function g6(t8) {
    return b5(t8).pointBytes;
  }
  function p4(t8 = Uint8Array.of(), ...f8) {
    const r7 = k(...f8);
    return h6(e7(l5(r7, q2("context", t8), !!o7)));
  }
  const y7 = { zip215: true };
  const m5 = s7.BYTES, B6 = { secretKey: m5, publicKey: m5, signature: 2 * m5, seed: m5 };
  function w7(t8 = a7(B6.seed)) {
    return v2(t8, B6.seed, "seed");
  }
  const E7 = { getExtendedPublicKey: b5, randomSecretKey: w7, isValidSecretKey: function(t8) {
    return s(t8) && t8.length === c6.BYTES;
  }, isValidPublicKey: function(e8, f8) {
    try {
      return !!t7.fromBytes(e8, f8);
    } catch (t8) {
      return false;
    }
  }, toMontgomery(e8) {
    const { y: f8 } = t7.fromBytes(e8), r7 = B6.publicKey, n7 = 32 === r7;
    if (!n7 && 57 !== r7) throw Error("only defined for 25519 and 448");
    const o8 = n7 ? s7.div(te + f8, te - f8) : s7.div(f8 - te, f8 + te);
    return s7.toBytes(o8);
  }, toMontgomerySecret(t8) {
    const f8 = B6.secretKey;
    v2(t8, f8);
    const r7 = e7(t8.subarray(0, f8));
    return d5(r7).subarray(0, f8);
  }, randomPrivateKey: w7, precompute: (e8 = 8, f8 = t7.BASE) => f8.precompute(e8, false) };
  return Object.freeze({ keygen: function(t8) {
    const e8 = E7.randomSecretKey(t8);
    return { secretKey: e8, publicKey: g6(e8) };
  }, getPublicKey: g6, sign: function(t8, e8, f8 = {}) {
    t8 = q2("message", t8), o7 && (t8 = o7(t8));
    const { prefix: r7, scalar: s8, pointBytes: a8 } = b5(e8), d6 = p4(f8.context, r7, t8), u7 = i7.multiply(d6).toBytes(), l6 = p4(f8.context, u7, a8, t8), h7 = c6.create(d6 + l6 * s8);
    if (!c6.isValid(h7)) throw Error("sign failed: invalid s");
    return v2(k(u7, c6.toBytes(h7)), B6.signature, "result");
  }, verify: function(e8, f8, r7, n7 = y7) {
    const { context: s8, zip215: c7 } = n7, a8 = B6.signature;
    e8 = q2("signature", e8, a8), f8 = q2("message", f8), r7 = q2("publicKey", r7, B6.publicKey), void 0 !== c7 && x2(c7, "zip215"), o7 && (f8 = o7(f8));
    const d6 = a8 / 2, u7 = e8.subarray(0, d6), l6 = R2(e8.subarray(d6, a8));
    let h7, b6, g7;
    try {
      h7 = t7.fromBytes(r7, c7), b6 = t7.fromBytes(u7, c7), g7 = i7.multiplyUnsafe(l6);
    } catch (t8) {
      return false;
    }
    if (!c7 && h7.isSmallOrder()) return false;
    const m6 = p4(s8, b6.toBytes(), h7.toBytes(), f8);
    return b6.add(h7.multiplyUnsafe(m6)).subtract(g7).clearCofactor().is0();
  }, utils: E7, Point: t7, lengths: B6 });
}
function ce(t7) {
  const f7 = (V2(r7 = t7, { adjustScalarBytes: "function", powPminus2: "function" }), Object.freeze({ ...r7 }));
  var r7;
  const { P: n7, type: o7, adjustScalarBytes: i7, powPminus2: s7, randomBytes: c6 } = f7, a7 = "x25519" === o7;
  if (!a7 && "x448" !== o7) throw Error("invalid type");
  const d5 = c6 || C, l5 = a7 ? 255 : 448, h6 = a7 ? 32 : 56, b5 = a7 ? BigInt(9) : BigInt(5), g6 = a7 ? BigInt(121665) : BigInt(39081), p4 = a7 ? se ** BigInt(254) : se ** BigInt(447), y7 = a7 ? BigInt(8) * se ** BigInt(251) - ie : BigInt(4) * se ** BigInt(445) - ie, m5 = p4 + y7 + ie, B6 = (t8) => X2(t8, n7), w7 = E7(b5);
  function E7(t8) {
    return A2(B6(t8), h6);
  }
  function x6(t8, e7) {
    const f8 = (function(t9, e8) {
      N2("u", t9, oe, n7), N2("scalar", e8, p4, m5);
      const f9 = e8, r8 = t9;
      let o8 = ie, i8 = oe, c7 = t9, a8 = ie, d6 = oe;
      for (let t10 = BigInt(l5 - 1); t10 >= oe; t10--) {
        const e9 = f9 >> t10 & ie;
        d6 ^= e9, { x_2: o8, x_3: c7 } = I7(d6, o8, c7), { x_2: i8, x_3: a8 } = I7(d6, i8, a8), d6 = e9;
        const n8 = o8 + i8, s8 = B6(n8 * n8), u8 = o8 - i8, l6 = B6(u8 * u8), h7 = s8 - l6, b6 = c7 + a8, p5 = B6((c7 - a8) * n8), y8 = B6(b6 * u8), m6 = p5 + y8, w8 = p5 - y8;
        c7 = B6(m6 * m6), a8 = B6(r8 * B6(w8 * w8)), o8 = B6(s8 * l6), i8 = B6(h7 * (s8 + B6(g6 * h7)));
      }
      ({ x_2: o8, x_3: c7 } = I7(d6, o8, c7)), { x_2: i8, x_3: a8 } = I7(d6, i8, a8);
      const u7 = s7(i8);
      return B6(o8 * u7);
    })((function(t9) {
      const e8 = q2("u coordinate", t9, h6);
      return a7 && (e8[31] &= 127), B6(R2(e8));
    })(e7), (function(t9) {
      return R2(i7(q2("scalar", t9, h6)));
    })(t8));
    if (f8 === oe) throw Error("invalid private or public key received");
    return E7(f8);
  }
  function v6(t8) {
    return x6(t8, w7);
  }
  function I7(t8, e7, f8) {
    const r8 = B6(t8 * (e7 - f8));
    return { x_2: e7 = B6(e7 - r8), x_3: f8 = B6(f8 + r8) };
  }
  const S6 = { secretKey: h6, publicKey: h6, seed: h6 }, O5 = (t8 = d5(h6)) => (n(t8, S6.seed), t8);
  return { keygen: function(t8) {
    const e7 = O5(t8);
    return { secretKey: e7, publicKey: v6(e7) };
  }, getSharedSecret: (t8, e7) => x6(t8, e7), getPublicKey: (t8) => v6(t8), scalarMult: x6, scalarMultBase: v6, utils: { randomSecretKey: O5, randomPrivateKey: O5 }, GuBytes: w7.slice(), lengths: S6 };
}
function we(t7) {
  const e7 = ae.p, f7 = t7 * t7 * t7 % e7, r7 = f7 * f7 * t7 % e7, n7 = M2(r7, be, e7) * r7 % e7, o7 = M2(n7, be, e7) * r7 % e7, i7 = M2(o7, he, e7) * f7 % e7, s7 = M2(i7, ge, e7) * i7 % e7, c6 = M2(s7, pe, e7) * s7 % e7, a7 = M2(c6, ye, e7) * c6 % e7, d5 = M2(a7, me, e7) * a7 % e7, u7 = M2(d5, ye, e7) * c6 % e7, l5 = M2(u7, he, e7) * f7 % e7, h6 = M2(l5, le, e7) * t7 % e7;
  return M2(h6, Be, e7) * l5 % e7;
}
function Ee(t7) {
  return t7[0] &= 252, t7[55] |= 128, t7[56] = 0, t7;
}
function xe(t7, e7) {
  const f7 = ae.p, r7 = X2(t7 * t7 * e7, f7), n7 = X2(r7 * t7, f7), o7 = X2(n7 * r7 * e7, f7), i7 = X2(n7 * we(o7), f7), s7 = X2(i7 * i7, f7);
  return { isValid: X2(s7 * e7, f7) === t7, value: i7 };
}
function Se(t7, e7, f7) {
  if (e7.length > 255) throw Error("context must be smaller than 255, got: " + e7.length);
  return k((r7 = "SigEd448", Uint8Array.from(r7, ((t8, e8) => {
    const f8 = t8.charCodeAt(0);
    if (1 !== t8.length || f8 > 127) throw Error(`string contains non-ASCII character "${r7[e8]}" with code ${f8} at position ${e8}`);
    return f8;
  }))), new Uint8Array([f7 ? 1 : 0, e7.length]), e7, t7);
  var r7;
}
var w2, E2, K2, U2, C2, k2, j2, L2, G2, H2, Y2, z2, _2, D2, ft2, at2, dt2, ut2, lt2, mt2, Bt2, xt2, Ot2, At2, qt, Zt, Kt, Nt2, Pt, Yt, zt, _t2, Dt2, Xt2, Mt2, $t, Wt, Jt, Qt, te, ee, fe, oe, ie, se, ae, de, ue, le, he, be, ge, pe, ye, me, Be, ve, Ie, Oe, Re, Fe, Ae, qe, Ze, Ke, Ne, Pe, Ue, Ve, Te, Ce, ke;
var init_noble_curves_min = __esm({
  "node_modules/openpgp/dist/lightweight/noble_curves.min.mjs"() {
    init_sha512_min();
    w2 = /* @__PURE__ */ BigInt(0);
    E2 = /* @__PURE__ */ BigInt(1);
    K2 = (t7) => "bigint" == typeof t7 && w2 <= t7;
    U2 = (t7) => (E2 << BigInt(t7)) - E2;
    C2 = BigInt(0);
    k2 = BigInt(1);
    j2 = /* @__PURE__ */ BigInt(2);
    L2 = /* @__PURE__ */ BigInt(3);
    G2 = /* @__PURE__ */ BigInt(4);
    H2 = /* @__PURE__ */ BigInt(5);
    Y2 = /* @__PURE__ */ BigInt(7);
    z2 = /* @__PURE__ */ BigInt(8);
    _2 = /* @__PURE__ */ BigInt(9);
    D2 = /* @__PURE__ */ BigInt(16);
    ft2 = ["create", "isValid", "is0", "neg", "inv", "sqrt", "sqr", "eql", "add", "sub", "mul", "pow", "div", "addN", "subN", "mulN", "sqrN"];
    at2 = class extends m {
      constructor(t7, e7) {
        super(), this.finished = false, this.destroyed = false, r(t7);
        const f7 = L(e7);
        if (this.iHash = t7.create(), "function" != typeof this.iHash.update) throw Error("Expected instance of class which extends utils.Hash");
        this.blockLen = this.iHash.blockLen, this.outputLen = this.iHash.outputLen;
        const r7 = this.blockLen, n7 = new Uint8Array(r7);
        n7.set(f7.length > r7 ? t7.create().update(f7).digest() : f7);
        for (let t8 = 0; t8 < n7.length; t8++) n7[t8] ^= 54;
        this.iHash.update(n7), this.oHash = t7.create();
        for (let t8 = 0; t8 < n7.length; t8++) n7[t8] ^= 106;
        this.oHash.update(n7), c(n7);
      }
      update(t7) {
        return h(this), this.iHash.update(t7), this;
      }
      digestInto(t7) {
        h(this), n(t7, this.outputLen), this.finished = true, this.iHash.digestInto(t7), this.oHash.update(t7), this.oHash.digestInto(t7), this.destroy();
      }
      digest() {
        const t7 = new Uint8Array(this.oHash.outputLen);
        return this.digestInto(t7), t7;
      }
      _cloneInto(t7) {
        t7 || (t7 = Object.create(Object.getPrototypeOf(this), {}));
        const { oHash: e7, iHash: f7, finished: r7, destroyed: n7, blockLen: o7, outputLen: i7 } = this;
        return t7.finished = r7, t7.destroyed = n7, t7.blockLen = o7, t7.outputLen = i7, t7.oHash = e7._cloneInto(t7.oHash), t7.iHash = f7._cloneInto(t7.iHash), t7;
      }
      clone() {
        return this._cloneInto();
      }
      destroy() {
        this.destroyed = true, this.oHash.destroy(), this.iHash.destroy();
      }
    };
    dt2 = (t7, e7, f7) => new at2(t7, e7).update(f7).digest();
    dt2.create = (t7, e7) => new at2(t7, e7);
    ut2 = BigInt(0);
    lt2 = BigInt(1);
    mt2 = /* @__PURE__ */ new WeakMap();
    Bt2 = /* @__PURE__ */ new WeakMap();
    xt2 = class {
      constructor(t7, e7) {
        this.BASE = t7.BASE, this.ZERO = t7.ZERO, this.Fn = t7.Fn, this.bits = e7;
      }
      _unsafeLadder(t7, e7, f7 = this.ZERO) {
        let r7 = t7;
        for (; e7 > ut2; ) e7 & lt2 && (f7 = f7.add(r7)), r7 = r7.double(), e7 >>= lt2;
        return f7;
      }
      precomputeWindow(t7, e7) {
        const { windows: f7, windowSize: r7 } = pt2(e7, this.bits), n7 = [];
        let o7 = t7, i7 = o7;
        for (let t8 = 0; t8 < f7; t8++) {
          i7 = o7, n7.push(i7);
          for (let t9 = 1; t9 < r7; t9++) i7 = i7.add(o7), n7.push(i7);
          o7 = i7.double();
        }
        return n7;
      }
      wNAF(t7, e7, f7) {
        if (!this.Fn.isValid(f7)) throw Error("invalid scalar");
        let r7 = this.ZERO, n7 = this.BASE;
        const o7 = pt2(t7, this.bits);
        for (let t8 = 0; t8 < o7.windows; t8++) {
          const { nextN: i7, offset: s7, isZero: c6, isNeg: a7, isNegF: d5, offsetF: u7 } = yt2(f7, t8, o7);
          f7 = i7, c6 ? n7 = n7.add(ht2(d5, e7[u7])) : r7 = r7.add(ht2(a7, e7[s7]));
        }
        return Et2(f7), { p: r7, f: n7 };
      }
      wNAFUnsafe(t7, e7, f7, r7 = this.ZERO) {
        const n7 = pt2(t7, this.bits);
        for (let t8 = 0; t8 < n7.windows && f7 !== ut2; t8++) {
          const { nextN: o7, offset: i7, isZero: s7, isNeg: c6 } = yt2(f7, t8, n7);
          if (f7 = o7, !s7) {
            const t9 = e7[i7];
            r7 = r7.add(c6 ? t9.negate() : t9);
          }
        }
        return Et2(f7), r7;
      }
      getPrecomputes(t7, e7, f7) {
        let r7 = mt2.get(e7);
        return r7 || (r7 = this.precomputeWindow(e7, t7), 1 !== t7 && ("function" == typeof f7 && (r7 = f7(r7)), mt2.set(e7, r7))), r7;
      }
      cached(t7, e7, f7) {
        const r7 = wt2(t7);
        return this.wNAF(r7, this.getPrecomputes(r7, t7, f7), e7);
      }
      unsafe(t7, e7, f7, r7) {
        const n7 = wt2(t7);
        return 1 === n7 ? this._unsafeLadder(t7, e7, r7) : this.wNAFUnsafe(n7, this.getPrecomputes(n7, t7, f7), e7, r7);
      }
      createCache(t7, e7) {
        gt2(e7, this.bits), Bt2.set(t7, e7), mt2.delete(t7);
      }
      hasCache(t7) {
        return 1 !== wt2(t7);
      }
    };
    Ot2 = (t7, e7) => (t7 + (t7 >= 0 ? e7 : -e7) / Kt) / e7;
    At2 = { Err: class extends Error {
      constructor(t7 = "") {
        super(t7);
      }
    }, _tlv: { encode: (t7, e7) => {
      const { Err: f7 } = At2;
      if (t7 < 0 || t7 > 256) throw new f7("tlv.encode: wrong tag");
      if (1 & e7.length) throw new f7("tlv.encode: unpadded data");
      const r7 = e7.length / 2, n7 = I2(r7);
      if (n7.length / 2 & 128) throw new f7("tlv.encode: long form length too big");
      const o7 = r7 > 127 ? I2(n7.length / 2 | 128) : "";
      return I2(t7) + o7 + n7 + e7;
    }, decode(t7, e7) {
      const { Err: f7 } = At2;
      let r7 = 0;
      if (t7 < 0 || t7 > 256) throw new f7("tlv.encode: wrong tag");
      if (e7.length < 2 || e7[r7++] !== t7) throw new f7("tlv.decode: wrong tlv");
      const n7 = e7[r7++];
      let o7 = 0;
      if (!!(128 & n7)) {
        const t8 = 127 & n7;
        if (!t8) throw new f7("tlv.decode(long): indefinite length not supported");
        if (t8 > 4) throw new f7("tlv.decode(long): byte length is too big");
        const i8 = e7.subarray(r7, r7 + t8);
        if (i8.length !== t8) throw new f7("tlv.decode: length bytes not complete");
        if (0 === i8[0]) throw new f7("tlv.decode(long): zero leftmost byte");
        for (const t9 of i8) o7 = o7 << 8 | t9;
        if (r7 += t8, o7 < 128) throw new f7("tlv.decode(long): not minimal encoding");
      } else o7 = n7;
      const i7 = e7.subarray(r7, r7 + o7);
      if (i7.length !== o7) throw new f7("tlv.decode: wrong value length");
      return { v: i7, l: e7.subarray(r7 + o7) };
    } }, _int: { encode(t7) {
      const { Err: e7 } = At2;
      if (t7 < qt) throw new e7("integer: negative integers are not allowed");
      let f7 = I2(t7);
      if (8 & Number.parseInt(f7[0], 16) && (f7 = "00" + f7), 1 & f7.length) throw new e7("unexpected DER parsing assertion: unpadded hex");
      return f7;
    }, decode(t7) {
      const { Err: e7 } = At2;
      if (128 & t7[0]) throw new e7("invalid signature integer: negative");
      if (0 === t7[0] && !(128 & t7[1])) throw new e7("invalid signature integer: unnecessary leading zero");
      return O2(t7);
    } }, toSig(t7) {
      const { Err: e7, _int: f7, _tlv: r7 } = At2, n7 = q2("signature", t7), { v: o7, l: i7 } = r7.decode(48, n7);
      if (i7.length) throw new e7("invalid signature: left bytes after parsing");
      const { v: s7, l: c6 } = r7.decode(2, o7), { v: a7, l: d5 } = r7.decode(2, c6);
      if (d5.length) throw new e7("invalid signature: left bytes after parsing");
      return { r: f7.decode(s7), s: f7.decode(a7) };
    }, hexFromSig(t7) {
      const { _tlv: e7, _int: f7 } = At2, r7 = e7.encode(2, f7.encode(t7.r)) + e7.encode(2, f7.encode(t7.s));
      return e7.encode(48, r7);
    } };
    qt = BigInt(0);
    Zt = BigInt(1);
    Kt = BigInt(2);
    Nt2 = BigInt(3);
    Pt = BigInt(4);
    Yt = { p: BigInt("0xffffffff00000001000000000000000000000000ffffffffffffffffffffffff"), n: BigInt("0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"), h: BigInt(1), a: BigInt("0xffffffff00000001000000000000000000000000fffffffffffffffffffffffc"), b: BigInt("0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"), Gx: BigInt("0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296"), Gy: BigInt("0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5") };
    zt = { p: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff"), n: BigInt("0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"), h: BigInt(1), a: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000fffffffc"), b: BigInt("0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef"), Gx: BigInt("0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7"), Gy: BigInt("0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f") };
    _t2 = { p: BigInt("0x1ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), n: BigInt("0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409"), h: BigInt(1), a: BigInt("0x1fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc"), b: BigInt("0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00"), Gx: BigInt("0x00c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66"), Gy: BigInt("0x011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650") };
    Dt2 = it2(Yt.p);
    Xt2 = it2(zt.p);
    Mt2 = it2(_t2.p);
    $t = Ht2({ ...Yt, Fp: Dt2, lowS: false }, lt);
    Wt = Ht2({ ...zt, Fp: Xt2, lowS: false }, bt);
    Jt = Ht2({ ..._t2, Fp: Mt2, lowS: false, allowedPrivateKeyLengths: [130, 131, 132] }, dt);
    Qt = BigInt(0);
    te = BigInt(1);
    ee = BigInt(2);
    fe = BigInt(8);
    oe = BigInt(0);
    ie = BigInt(1);
    se = BigInt(2);
    ae = { p: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffffffff"), n: BigInt("0x3fffffffffffffffffffffffffffffffffffffffffffffffffffffff7cca23e9c44edb49aed63690216cc2728dc58f552378c292ab5844f3"), h: BigInt(4), a: BigInt(1), d: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffffffffffffffffffffffffffffffffffffffffffffffff6756"), Gx: BigInt("0x4f1970c66bed0ded221d15a622bf36da9e146570470f1767ea6de324a3d3a46412ae1af72ab66511433b80e18b00938e2626a82bc70cc05e"), Gy: BigInt("0x693f46716eb6bc248876203756c9c7624bea73736ca3984087789c1e05a0c2d73ad3ff1ce67c39c4fdbd132c4ed7c8ad9808795bf230fa14") };
    de = Object.assign({}, ae, { d: BigInt("0xd78b4bdc7f0daf19f24f38c29373a2ccad46157242a50f37809b1da3412a12e79ccc9c81264cfe9ad080997058fb61c4243cc32dbaa156b9"), Gx: BigInt("0x79a70b2b70400553ae7c9df416c792c61128751ac92969240c25a07d728bdc93e21f7787ed6972249de732f38496cd11698713093e9c04fc"), Gy: BigInt("0x7fffffffffffffffffffffffffffffffffffffffffffffffffffffff80000000000000000000000000000000000000000000000000000001") });
    ue = /* @__PURE__ */ I((() => vt.create({ dkLen: 114 })));
    le = BigInt(1);
    he = BigInt(2);
    be = BigInt(3);
    BigInt(4);
    ge = BigInt(11);
    pe = BigInt(22);
    ye = BigInt(44);
    me = BigInt(88);
    Be = BigInt(223);
    ve = /* @__PURE__ */ (() => it2(ae.p, { BITS: 456, isLE: true }))();
    Ie = /* @__PURE__ */ (() => it2(ae.n, { BITS: 456, isLE: true }))();
    Oe = (function(t7) {
      const { CURVE: e7, curveOpts: f7, hash: r7, eddsaOpts: n7 } = (function(t8) {
        const e8 = { a: t8.a, d: t8.d, p: t8.Fp.ORDER, n: t8.n, h: t8.h, Gx: t8.Gx, Gy: t8.Gy }, f8 = { Fp: t8.Fp, Fn: it2(e8.n, t8.nBitLength, true), uvRatio: t8.uvRatio }, r8 = { randomBytes: t8.randomBytes, adjustScalarBytes: t8.adjustScalarBytes, domain: t8.domain, prehash: t8.prehash, mapToCurve: t8.mapToCurve };
        return { CURVE: e8, curveOpts: f8, hash: t8.hash, eddsaOpts: r8 };
      })(t7);
      return (function(t8, e8) {
        const f8 = e8.Point;
        return Object.assign({}, e8, { ExtendedPoint: f8, CURVE: t8, nBitLength: f8.Fn.BITS, nByteLength: f8.Fn.BYTES });
      })(t7, ne(re(e7, f7), r7, n7));
    })(/* @__PURE__ */ (() => ({ ...ae, Fp: ve, Fn: Ie, nBitLength: Ie.BITS, hash: ue, adjustScalarBytes: Ee, domain: Se, uvRatio: xe }))());
    re(de);
    Re = /* @__PURE__ */ (() => {
      const t7 = ae.p;
      return ce({ P: t7, type: "x448", powPminus2: (e7) => X2(M2(we(e7), he, t7) * e7, t7), adjustScalarBytes: Ee });
    })();
    Fe = { p: BigInt("0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f"), n: BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"), h: BigInt(1), a: BigInt(0), b: BigInt(7), Gx: BigInt("0x79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"), Gy: BigInt("0x483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8") };
    Ae = { beta: BigInt("0x7ae96a2b657c07106e64479eac3434e99cf0497512f58995c1396c28719501ee"), basises: [[BigInt("0x3086d221a7d46bcde86c90e49284eb15"), -BigInt("0xe4437ed6010e88286f547fa90abfe4c3")], [BigInt("0x114ca50f7a8e2f3f657c1108d9d44cfd8"), BigInt("0x3086d221a7d46bcde86c90e49284eb15")]] };
    qe = /* @__PURE__ */ BigInt(2);
    Ze = it2(Fe.p, { sqrt: function(t7) {
      const e7 = Fe.p, f7 = BigInt(3), r7 = BigInt(6), n7 = BigInt(11), o7 = BigInt(22), i7 = BigInt(23), s7 = BigInt(44), c6 = BigInt(88), a7 = t7 * t7 * t7 % e7, d5 = a7 * a7 * t7 % e7, u7 = M2(d5, f7, e7) * d5 % e7, l5 = M2(u7, f7, e7) * d5 % e7, h6 = M2(l5, qe, e7) * a7 % e7, b5 = M2(h6, n7, e7) * h6 % e7, g6 = M2(b5, o7, e7) * b5 % e7, p4 = M2(g6, s7, e7) * g6 % e7, y7 = M2(p4, c6, e7) * p4 % e7, m5 = M2(y7, s7, e7) * g6 % e7, B6 = M2(m5, f7, e7) * d5 % e7, w7 = M2(B6, i7, e7) * b5 % e7, E7 = M2(w7, r7, e7) * a7 % e7, x6 = M2(E7, qe, e7);
      if (!Ze.eql(Ze.sqr(x6), t7)) throw Error("Cannot find square root");
      return x6;
    } });
    Ke = Ht2({ ...Fe, Fp: Ze, lowS: true, endo: Ae }, lt);
    Ne = it2(BigInt("0xa9fb57dba1eea9bc3e660a909d838d726e3bf623d52620282013481d1f6e5377"));
    Pe = Ht2({ a: Ne.create(BigInt("0x7d5a0975fc2c3057eef67530417affe7fb8055c126dc5c6ce94a4b44f330b5d9")), b: BigInt("0x26dc5c6ce94a4b44f330b5d9bbd77cbf958416295cf7e1ce6bccdc18ff8c07b6"), Fp: Ne, n: BigInt("0xa9fb57dba1eea9bc3e660a909d838d718c397aa3b561a6f7901e0e82974856a7"), Gx: BigInt("0x8bd2aeb9cb7e57cb2c4b482ffc81b7afb9de27e1e3bd23c23a4453bd9ace3262"), Gy: BigInt("0x547ef835c3dac4fd97f8461a14611dc9c27745132ded8e545c1d54c72f046997"), h: BigInt(1), lowS: false }, Nt);
    Ue = it2(BigInt("0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b412b1da197fb71123acd3a729901d1a71874700133107ec53"));
    Ve = Ht2({ a: Ue.create(BigInt("0x7bc382c63d8c150c3c72080ace05afa0c2bea28e4fb22787139165efba91f90f8aa5814a503ad4eb04a8c7dd22ce2826")), b: BigInt("0x04a8c7dd22ce28268b39b55416f0447c2fb77de107dcd2a62e880ea53eeb62d57cb4390295dbc9943ab78696fa504c11"), Fp: Ue, n: BigInt("0x8cb91e82a3386d280f5d6f7e50e641df152f7109ed5456b31f166e6cac0425a7cf3ab6af6b7fc3103b883202e9046565"), Gx: BigInt("0x1d1c64f068cf45ffa2a63a81b7c13f6b8847a3e77ef14fe3db7fcafe0cbd10e8e826e03436d646aaef87b2e247d4af1e"), Gy: BigInt("0x8abe1d7520f9c2a45cb1eb8e95cfd55262b70b29feec5864e19c054ff99129280e4646217791811142820341263c5315"), h: BigInt(1), lowS: false }, Mt);
    Te = it2(BigInt("0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca703308717d4d9b009bc66842aecda12ae6a380e62881ff2f2d82c68528aa6056583a48f3"));
    Ce = Ht2({ a: Te.create(BigInt("0x7830a3318b603b89e2327145ac234cc594cbdd8d3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94ca")), b: BigInt("0x3df91610a83441caea9863bc2ded5d5aa8253aa10a2ef1c98b9ac8b57f1117a72bf2c7b9e7c1ac4d77fc94cadc083e67984050b75ebae5dd2809bd638016f723"), Fp: Te, n: BigInt("0xaadd9db8dbe9c48b3fd4e6ae33c9fc07cb308db3b3c9d20ed6639cca70330870553e5c414ca92619418661197fac10471db1d381085ddaddb58796829ca90069"), Gx: BigInt("0x81aee4bdd82ed9645a21322e9c4c6a9385ed9f70b5d916c1b43b62eef4d0098eff3b1f78e2d0d48d50d1687b93b97d5f7c6d5047406a5e688b352209bcb9f822"), Gy: BigInt("0x7dde385d566332ecc0eabfa9cf7822fdf209f70024a57b1aa000c55b881f8111b2dcde494a5f485e5bca4bd88a2763aed1ca2b2fa8f0540678cd1e0f3ad80892"), h: BigInt(1), lowS: false }, _t);
    ke = new Map(Object.entries({ nistP256: $t, nistP384: Wt, nistP521: Jt, brainpoolP256r1: Pe, brainpoolP384r1: Ve, brainpoolP512r1: Ce, secp256k1: Ke, x448: Re, ed448: Oe }));
  }
});

// node_modules/openpgp/dist/lightweight/noble_hashes.min.mjs
var noble_hashes_min_exports = {};
__export(noble_hashes_min_exports, {
  nobleHashes: () => I3
});
function j3(t7, s7, h6, i7) {
  return 0 === t7 ? s7 ^ h6 ^ i7 : 1 === t7 ? s7 & h6 | ~s7 & i7 : 2 === t7 ? (s7 | ~h6) ^ i7 : 3 === t7 ? s7 & i7 | h6 & ~i7 : s7 ^ (h6 | ~i7);
}
var u2, A3, d2, m2, y2, C3, U3, w3, g2, B2, D3, b2, E3, M3, x3, _3, q3, v3, O3, k3, z3, F3, G3, H3, I3;
var init_noble_hashes_min = __esm({
  "node_modules/openpgp/dist/lightweight/noble_hashes.min.mjs"() {
    init_sha512_min();
    u2 = /* @__PURE__ */ Uint32Array.from([1732584193, 4023233417, 2562383102, 271733878, 3285377520]);
    A3 = /* @__PURE__ */ new Uint32Array(80);
    d2 = class extends O {
      constructor() {
        super(64, 20, 8, false), this.A = 0 | u2[0], this.B = 0 | u2[1], this.C = 0 | u2[2], this.D = 0 | u2[3], this.E = 0 | u2[4];
      }
      get() {
        const { A: t7, B: s7, C: h6, D: i7, E: e7 } = this;
        return [t7, s7, h6, i7, e7];
      }
      set(t7, s7, h6, i7, e7) {
        this.A = 0 | t7, this.B = 0 | s7, this.C = 0 | h6, this.D = 0 | i7, this.E = 0 | e7;
      }
      process(t7, s7) {
        for (let h6 = 0; h6 < 16; h6++, s7 += 4) A3[h6] = t7.getUint32(s7, false);
        for (let t8 = 16; t8 < 80; t8++) A3[t8] = l(A3[t8 - 3] ^ A3[t8 - 8] ^ A3[t8 - 14] ^ A3[t8 - 16], 1);
        let { A: i7, B: n7, C: o7, D: a7, E: f7 } = this;
        for (let t8 = 0; t8 < 80; t8++) {
          let s8, l5;
          t8 < 20 ? (s8 = F(n7, o7, a7), l5 = 1518500249) : t8 < 40 ? (s8 = n7 ^ o7 ^ a7, l5 = 1859775393) : t8 < 60 ? (s8 = D(n7, o7, a7), l5 = 2400959708) : (s8 = n7 ^ o7 ^ a7, l5 = 3395469782);
          const c6 = l(i7, 5) + s8 + f7 + l5 + A3[t8] | 0;
          f7 = a7, a7 = o7, o7 = l(n7, 30), n7 = i7, i7 = c6;
        }
        i7 = i7 + this.A | 0, n7 = n7 + this.B | 0, o7 = o7 + this.C | 0, a7 = a7 + this.D | 0, f7 = f7 + this.E | 0, this.set(i7, n7, o7, a7, f7);
      }
      roundClean() {
        c(A3);
      }
      destroy() {
        this.set(0, 0, 0, 0, 0), c(this.buffer);
      }
    };
    m2 = /* @__PURE__ */ I((() => new d2()));
    y2 = /* @__PURE__ */ Uint8Array.from([7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8]);
    C3 = /* @__PURE__ */ (() => Uint8Array.from(Array(16).fill(0).map(((t7, s7) => s7))))();
    U3 = /* @__PURE__ */ (() => C3.map(((t7) => (9 * t7 + 5) % 16)))();
    w3 = /* @__PURE__ */ (() => {
      const t7 = [[C3], [U3]];
      for (let s7 = 0; s7 < 4; s7++) for (let h6 of t7) h6.push(h6[s7].map(((t8) => y2[t8])));
      return t7;
    })();
    g2 = /* @__PURE__ */ (() => w3[0])();
    B2 = /* @__PURE__ */ (() => w3[1])();
    D3 = /* @__PURE__ */ [[11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8], [12, 13, 11, 15, 6, 9, 9, 7, 12, 15, 11, 13, 7, 8, 7, 7], [13, 15, 14, 11, 7, 7, 6, 8, 13, 14, 13, 12, 5, 5, 6, 9], [14, 11, 12, 14, 8, 6, 5, 5, 15, 12, 15, 14, 9, 9, 8, 6], [15, 12, 13, 13, 9, 5, 8, 6, 14, 11, 12, 11, 8, 6, 5, 5]].map(((t7) => Uint8Array.from(t7)));
    b2 = /* @__PURE__ */ g2.map(((t7, s7) => t7.map(((t8) => D3[s7][t8]))));
    E3 = /* @__PURE__ */ B2.map(((t7, s7) => t7.map(((t8) => D3[s7][t8]))));
    M3 = /* @__PURE__ */ Uint32Array.from([0, 1518500249, 1859775393, 2400959708, 2840853838]);
    x3 = /* @__PURE__ */ Uint32Array.from([1352829926, 1548603684, 1836072691, 2053994217, 0]);
    _3 = /* @__PURE__ */ new Uint32Array(16);
    q3 = class extends O {
      constructor() {
        super(64, 20, 8, true), this.h0 = 1732584193, this.h1 = -271733879, this.h2 = -1732584194, this.h3 = 271733878, this.h4 = -1009589776;
      }
      get() {
        const { h0: t7, h1: s7, h2: h6, h3: i7, h4: e7 } = this;
        return [t7, s7, h6, i7, e7];
      }
      set(t7, s7, h6, i7, e7) {
        this.h0 = 0 | t7, this.h1 = 0 | s7, this.h2 = 0 | h6, this.h3 = 0 | i7, this.h4 = 0 | e7;
      }
      process(t7, s7) {
        for (let h6 = 0; h6 < 16; h6++, s7 += 4) _3[h6] = t7.getUint32(s7, true);
        let i7 = 0 | this.h0, e7 = i7, r7 = 0 | this.h1, n7 = r7, o7 = 0 | this.h2, a7 = o7, f7 = 0 | this.h3, l5 = f7, c6 = 0 | this.h4, p4 = c6;
        for (let t8 = 0; t8 < 5; t8++) {
          const s8 = 4 - t8, u7 = M3[t8], A7 = x3[t8], d5 = g2[t8], m5 = B2[t8], y7 = b2[t8], C7 = E3[t8];
          for (let s9 = 0; s9 < 16; s9++) {
            const e8 = l(i7 + j3(t8, r7, o7, f7) + _3[d5[s9]] + u7, y7[s9]) + c6 | 0;
            i7 = c6, c6 = f7, f7 = 0 | l(o7, 10), o7 = r7, r7 = e8;
          }
          for (let t9 = 0; t9 < 16; t9++) {
            const i8 = l(e7 + j3(s8, n7, a7, l5) + _3[m5[t9]] + A7, C7[t9]) + p4 | 0;
            e7 = p4, p4 = l5, l5 = 0 | l(a7, 10), a7 = n7, n7 = i8;
          }
        }
        this.set(this.h1 + o7 + l5 | 0, this.h2 + f7 + p4 | 0, this.h3 + c6 + e7 | 0, this.h4 + i7 + n7 | 0, this.h0 + r7 + a7 | 0);
      }
      roundClean() {
        c(_3);
      }
      destroy() {
        this.destroyed = true, c(this.buffer), this.set(0, 0, 0, 0, 0);
      }
    };
    v3 = m2;
    O3 = /* @__PURE__ */ I((() => new q3()));
    k3 = Array.from({ length: 64 }, ((t7, s7) => Math.floor(2 ** 32 * Math.abs(Math.sin(s7 + 1)))));
    z3 = (t7, s7, h6) => t7 & s7 ^ ~t7 & h6;
    F3 = /* @__PURE__ */ new Uint32Array([1732584193, 4023233417, 2562383102, 271733878]);
    G3 = /* @__PURE__ */ new Uint32Array(16);
    H3 = class extends O {
      constructor() {
        super(64, 16, 8, true), this.A = 0 | F3[0], this.B = 0 | F3[1], this.C = 0 | F3[2], this.D = 0 | F3[3];
      }
      get() {
        const { A: t7, B: s7, C: h6, D: i7 } = this;
        return [t7, s7, h6, i7];
      }
      set(t7, s7, h6, i7) {
        this.A = 0 | t7, this.B = 0 | s7, this.C = 0 | h6, this.D = 0 | i7;
      }
      process(t7, s7) {
        for (let h6 = 0; h6 < 16; h6++, s7 += 4) G3[h6] = t7.getUint32(s7, true);
        let { A: i7, B: e7, C: r7, D: n7 } = this;
        for (let t8 = 0; t8 < 64; t8++) {
          let s8, o7, a7;
          t8 < 16 ? (s8 = z3(e7, r7, n7), o7 = t8, a7 = [7, 12, 17, 22]) : t8 < 32 ? (s8 = z3(n7, e7, r7), o7 = (5 * t8 + 1) % 16, a7 = [5, 9, 14, 20]) : t8 < 48 ? (s8 = e7 ^ r7 ^ n7, o7 = (3 * t8 + 5) % 16, a7 = [4, 11, 16, 23]) : (s8 = r7 ^ (e7 | ~n7), o7 = 7 * t8 % 16, a7 = [6, 10, 15, 21]), s8 = s8 + i7 + k3[t8] + G3[o7], i7 = n7, n7 = r7, r7 = e7, e7 += l(s8, a7[t8 % 4]);
        }
        i7 = i7 + this.A | 0, e7 = e7 + this.B | 0, r7 = r7 + this.C | 0, n7 = n7 + this.D | 0, this.set(i7, e7, r7, n7);
      }
      roundClean() {
        G3.fill(0);
      }
      destroy() {
        this.set(0, 0, 0, 0), this.buffer.fill(0);
      }
    };
    I3 = new Map(Object.entries({ md5: /* @__PURE__ */ H((() => new H3())), sha1: v3, sha224: Xt, sha256: Nt, sha384: Mt, sha512: _t, sha3_256: Dt, sha3_512: Ot, ripemd160: O3 }));
  }
});

// node_modules/openpgp/dist/lightweight/nacl-fast.min.mjs
var nacl_fast_min_exports = {};
__export(nacl_fast_min_exports, {
  default: () => o2
});
function v4(r7, n7, o7, t7) {
  r7[n7] = o7 >> 24 & 255, r7[n7 + 1] = o7 >> 16 & 255, r7[n7 + 2] = o7 >> 8 & 255, r7[n7 + 3] = 255 & o7, r7[n7 + 4] = t7 >> 24 & 255, r7[n7 + 5] = t7 >> 16 & 255, r7[n7 + 6] = t7 >> 8 & 255, r7[n7 + 7] = 255 & t7;
}
function s2(r7, n7, o7, t7) {
  return (function(r8, n8, o8, t8, f7) {
    var e7, a7 = 0;
    for (e7 = 0; e7 < f7; e7++) a7 |= r8[n8 + e7] ^ o8[t8 + e7];
    return (1 & a7 - 1 >>> 8) - 1;
  })(r7, n7, o7, t7, 32);
}
function A4(r7, n7) {
  var o7;
  for (o7 = 0; o7 < 16; o7++) r7[o7] = 0 | n7[o7];
}
function M4(r7) {
  var n7, o7, t7 = 1;
  for (n7 = 0; n7 < 16; n7++) o7 = r7[n7] + t7 + 65535, t7 = Math.floor(o7 / 65536), r7[n7] = o7 - 65536 * t7;
  r7[0] += t7 - 1 + 37 * (t7 - 1);
}
function g3(r7, n7, o7) {
  for (var t7, f7 = ~(o7 - 1), e7 = 0; e7 < 16; e7++) t7 = f7 & (r7[e7] ^ n7[e7]), r7[e7] ^= t7, n7[e7] ^= t7;
}
function U4(r7, n7) {
  var o7, f7, e7, a7 = t2(), i7 = t2();
  for (o7 = 0; o7 < 16; o7++) i7[o7] = n7[o7];
  for (M4(i7), M4(i7), M4(i7), f7 = 0; f7 < 2; f7++) {
    for (a7[0] = i7[0] - 65517, o7 = 1; o7 < 15; o7++) a7[o7] = i7[o7] - 65535 - (a7[o7 - 1] >> 16 & 1), a7[o7 - 1] &= 65535;
    a7[15] = i7[15] - 32767 - (a7[14] >> 16 & 1), e7 = a7[15] >> 16 & 1, a7[14] &= 65535, g3(i7, a7, 1 - e7);
  }
  for (o7 = 0; o7 < 16; o7++) r7[2 * o7] = 255 & i7[o7], r7[2 * o7 + 1] = i7[o7] >> 8;
}
function d3(r7, n7) {
  var o7 = new Uint8Array(32), t7 = new Uint8Array(32);
  return U4(o7, r7), U4(t7, n7), s2(o7, 0, t7, 0);
}
function b3(r7) {
  var n7 = new Uint8Array(32);
  return U4(n7, r7), 1 & n7[0];
}
function p2(r7, n7) {
  var o7;
  for (o7 = 0; o7 < 16; o7++) r7[o7] = n7[2 * o7] + (n7[2 * o7 + 1] << 8);
  r7[15] &= 32767;
}
function K3(r7, n7, o7) {
  for (var t7 = 0; t7 < 16; t7++) r7[t7] = n7[t7] + o7[t7];
}
function E4(r7, n7, o7) {
  for (var t7 = 0; t7 < 16; t7++) r7[t7] = n7[t7] - o7[t7];
}
function k4(r7, n7, o7) {
  var t7, f7, e7 = 0, a7 = 0, i7 = 0, u7 = 0, l5 = 0, y7 = 0, c6 = 0, h6 = 0, w7 = 0, v6 = 0, s7 = 0, A7 = 0, M7 = 0, g6 = 0, U7 = 0, d5 = 0, b5 = 0, p4 = 0, K5 = 0, E7 = 0, k6 = 0, z6 = 0, P5 = 0, m5 = 0, x6 = 0, F6 = 0, R6 = 0, I7 = 0, G6 = 0, N5 = 0, S6 = 0, V5 = o7[0], j6 = o7[1], T5 = o7[2], q6 = o7[3], B6 = o7[4], C7 = o7[5], D7 = o7[6], H6 = o7[7], J5 = o7[8], L4 = o7[9], O5 = o7[10], Q5 = o7[11], W4 = o7[12], X4 = o7[13], Y4 = o7[14], Z4 = o7[15];
  e7 += (t7 = n7[0]) * V5, a7 += t7 * j6, i7 += t7 * T5, u7 += t7 * q6, l5 += t7 * B6, y7 += t7 * C7, c6 += t7 * D7, h6 += t7 * H6, w7 += t7 * J5, v6 += t7 * L4, s7 += t7 * O5, A7 += t7 * Q5, M7 += t7 * W4, g6 += t7 * X4, U7 += t7 * Y4, d5 += t7 * Z4, a7 += (t7 = n7[1]) * V5, i7 += t7 * j6, u7 += t7 * T5, l5 += t7 * q6, y7 += t7 * B6, c6 += t7 * C7, h6 += t7 * D7, w7 += t7 * H6, v6 += t7 * J5, s7 += t7 * L4, A7 += t7 * O5, M7 += t7 * Q5, g6 += t7 * W4, U7 += t7 * X4, d5 += t7 * Y4, b5 += t7 * Z4, i7 += (t7 = n7[2]) * V5, u7 += t7 * j6, l5 += t7 * T5, y7 += t7 * q6, c6 += t7 * B6, h6 += t7 * C7, w7 += t7 * D7, v6 += t7 * H6, s7 += t7 * J5, A7 += t7 * L4, M7 += t7 * O5, g6 += t7 * Q5, U7 += t7 * W4, d5 += t7 * X4, b5 += t7 * Y4, p4 += t7 * Z4, u7 += (t7 = n7[3]) * V5, l5 += t7 * j6, y7 += t7 * T5, c6 += t7 * q6, h6 += t7 * B6, w7 += t7 * C7, v6 += t7 * D7, s7 += t7 * H6, A7 += t7 * J5, M7 += t7 * L4, g6 += t7 * O5, U7 += t7 * Q5, d5 += t7 * W4, b5 += t7 * X4, p4 += t7 * Y4, K5 += t7 * Z4, l5 += (t7 = n7[4]) * V5, y7 += t7 * j6, c6 += t7 * T5, h6 += t7 * q6, w7 += t7 * B6, v6 += t7 * C7, s7 += t7 * D7, A7 += t7 * H6, M7 += t7 * J5, g6 += t7 * L4, U7 += t7 * O5, d5 += t7 * Q5, b5 += t7 * W4, p4 += t7 * X4, K5 += t7 * Y4, E7 += t7 * Z4, y7 += (t7 = n7[5]) * V5, c6 += t7 * j6, h6 += t7 * T5, w7 += t7 * q6, v6 += t7 * B6, s7 += t7 * C7, A7 += t7 * D7, M7 += t7 * H6, g6 += t7 * J5, U7 += t7 * L4, d5 += t7 * O5, b5 += t7 * Q5, p4 += t7 * W4, K5 += t7 * X4, E7 += t7 * Y4, k6 += t7 * Z4, c6 += (t7 = n7[6]) * V5, h6 += t7 * j6, w7 += t7 * T5, v6 += t7 * q6, s7 += t7 * B6, A7 += t7 * C7, M7 += t7 * D7, g6 += t7 * H6, U7 += t7 * J5, d5 += t7 * L4, b5 += t7 * O5, p4 += t7 * Q5, K5 += t7 * W4, E7 += t7 * X4, k6 += t7 * Y4, z6 += t7 * Z4, h6 += (t7 = n7[7]) * V5, w7 += t7 * j6, v6 += t7 * T5, s7 += t7 * q6, A7 += t7 * B6, M7 += t7 * C7, g6 += t7 * D7, U7 += t7 * H6, d5 += t7 * J5, b5 += t7 * L4, p4 += t7 * O5, K5 += t7 * Q5, E7 += t7 * W4, k6 += t7 * X4, z6 += t7 * Y4, P5 += t7 * Z4, w7 += (t7 = n7[8]) * V5, v6 += t7 * j6, s7 += t7 * T5, A7 += t7 * q6, M7 += t7 * B6, g6 += t7 * C7, U7 += t7 * D7, d5 += t7 * H6, b5 += t7 * J5, p4 += t7 * L4, K5 += t7 * O5, E7 += t7 * Q5, k6 += t7 * W4, z6 += t7 * X4, P5 += t7 * Y4, m5 += t7 * Z4, v6 += (t7 = n7[9]) * V5, s7 += t7 * j6, A7 += t7 * T5, M7 += t7 * q6, g6 += t7 * B6, U7 += t7 * C7, d5 += t7 * D7, b5 += t7 * H6, p4 += t7 * J5, K5 += t7 * L4, E7 += t7 * O5, k6 += t7 * Q5, z6 += t7 * W4, P5 += t7 * X4, m5 += t7 * Y4, x6 += t7 * Z4, s7 += (t7 = n7[10]) * V5, A7 += t7 * j6, M7 += t7 * T5, g6 += t7 * q6, U7 += t7 * B6, d5 += t7 * C7, b5 += t7 * D7, p4 += t7 * H6, K5 += t7 * J5, E7 += t7 * L4, k6 += t7 * O5, z6 += t7 * Q5, P5 += t7 * W4, m5 += t7 * X4, x6 += t7 * Y4, F6 += t7 * Z4, A7 += (t7 = n7[11]) * V5, M7 += t7 * j6, g6 += t7 * T5, U7 += t7 * q6, d5 += t7 * B6, b5 += t7 * C7, p4 += t7 * D7, K5 += t7 * H6, E7 += t7 * J5, k6 += t7 * L4, z6 += t7 * O5, P5 += t7 * Q5, m5 += t7 * W4, x6 += t7 * X4, F6 += t7 * Y4, R6 += t7 * Z4, M7 += (t7 = n7[12]) * V5, g6 += t7 * j6, U7 += t7 * T5, d5 += t7 * q6, b5 += t7 * B6, p4 += t7 * C7, K5 += t7 * D7, E7 += t7 * H6, k6 += t7 * J5, z6 += t7 * L4, P5 += t7 * O5, m5 += t7 * Q5, x6 += t7 * W4, F6 += t7 * X4, R6 += t7 * Y4, I7 += t7 * Z4, g6 += (t7 = n7[13]) * V5, U7 += t7 * j6, d5 += t7 * T5, b5 += t7 * q6, p4 += t7 * B6, K5 += t7 * C7, E7 += t7 * D7, k6 += t7 * H6, z6 += t7 * J5, P5 += t7 * L4, m5 += t7 * O5, x6 += t7 * Q5, F6 += t7 * W4, R6 += t7 * X4, I7 += t7 * Y4, G6 += t7 * Z4, U7 += (t7 = n7[14]) * V5, d5 += t7 * j6, b5 += t7 * T5, p4 += t7 * q6, K5 += t7 * B6, E7 += t7 * C7, k6 += t7 * D7, z6 += t7 * H6, P5 += t7 * J5, m5 += t7 * L4, x6 += t7 * O5, F6 += t7 * Q5, R6 += t7 * W4, I7 += t7 * X4, G6 += t7 * Y4, N5 += t7 * Z4, d5 += (t7 = n7[15]) * V5, a7 += 38 * (p4 += t7 * T5), i7 += 38 * (K5 += t7 * q6), u7 += 38 * (E7 += t7 * B6), l5 += 38 * (k6 += t7 * C7), y7 += 38 * (z6 += t7 * D7), c6 += 38 * (P5 += t7 * H6), h6 += 38 * (m5 += t7 * J5), w7 += 38 * (x6 += t7 * L4), v6 += 38 * (F6 += t7 * O5), s7 += 38 * (R6 += t7 * Q5), A7 += 38 * (I7 += t7 * W4), M7 += 38 * (G6 += t7 * X4), g6 += 38 * (N5 += t7 * Y4), U7 += 38 * (S6 += t7 * Z4), e7 = (t7 = (e7 += 38 * (b5 += t7 * j6)) + (f7 = 1) + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), a7 = (t7 = a7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), i7 = (t7 = i7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), u7 = (t7 = u7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), l5 = (t7 = l5 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), y7 = (t7 = y7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), c6 = (t7 = c6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), h6 = (t7 = h6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), w7 = (t7 = w7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), v6 = (t7 = v6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), s7 = (t7 = s7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), A7 = (t7 = A7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), M7 = (t7 = M7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), g6 = (t7 = g6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), U7 = (t7 = U7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), d5 = (t7 = d5 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), e7 = (t7 = (e7 += f7 - 1 + 37 * (f7 - 1)) + (f7 = 1) + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), a7 = (t7 = a7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), i7 = (t7 = i7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), u7 = (t7 = u7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), l5 = (t7 = l5 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), y7 = (t7 = y7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), c6 = (t7 = c6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), h6 = (t7 = h6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), w7 = (t7 = w7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), v6 = (t7 = v6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), s7 = (t7 = s7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), A7 = (t7 = A7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), M7 = (t7 = M7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), g6 = (t7 = g6 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), U7 = (t7 = U7 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), d5 = (t7 = d5 + f7 + 65535) - 65536 * (f7 = Math.floor(t7 / 65536)), e7 += f7 - 1 + 37 * (f7 - 1), r7[0] = e7, r7[1] = a7, r7[2] = i7, r7[3] = u7, r7[4] = l5, r7[5] = y7, r7[6] = c6, r7[7] = h6, r7[8] = w7, r7[9] = v6, r7[10] = s7, r7[11] = A7, r7[12] = M7, r7[13] = g6, r7[14] = U7, r7[15] = d5;
}
function z4(r7, n7) {
  k4(r7, n7, n7);
}
function P3(r7, n7) {
  var o7, f7 = t2();
  for (o7 = 0; o7 < 16; o7++) f7[o7] = n7[o7];
  for (o7 = 253; o7 >= 0; o7--) z4(f7, f7), 2 !== o7 && 4 !== o7 && k4(f7, f7, n7);
  for (o7 = 0; o7 < 16; o7++) r7[o7] = f7[o7];
}
function m3(r7, n7, o7) {
  var f7, e7, a7 = new Uint8Array(32), i7 = new Float64Array(80), l5 = t2(), y7 = t2(), c6 = t2(), h6 = t2(), w7 = t2(), v6 = t2();
  for (e7 = 0; e7 < 31; e7++) a7[e7] = n7[e7];
  for (a7[31] = 127 & n7[31] | 64, a7[0] &= 248, p2(i7, o7), e7 = 0; e7 < 16; e7++) y7[e7] = i7[e7], h6[e7] = l5[e7] = c6[e7] = 0;
  for (l5[0] = h6[0] = 1, e7 = 254; e7 >= 0; --e7) g3(l5, y7, f7 = a7[e7 >>> 3] >>> (7 & e7) & 1), g3(c6, h6, f7), K3(w7, l5, c6), E4(l5, l5, c6), K3(c6, y7, h6), E4(y7, y7, h6), z4(h6, w7), z4(v6, l5), k4(l5, c6, l5), k4(c6, y7, w7), K3(w7, l5, c6), E4(l5, l5, c6), z4(y7, l5), E4(c6, h6, v6), k4(l5, c6, u3), K3(l5, l5, h6), k4(c6, c6, l5), k4(l5, h6, v6), k4(h6, y7, i7), z4(y7, w7), g3(l5, y7, f7), g3(c6, h6, f7);
  for (e7 = 0; e7 < 16; e7++) i7[e7 + 16] = l5[e7], i7[e7 + 32] = c6[e7], i7[e7 + 48] = y7[e7], i7[e7 + 64] = h6[e7];
  var s7 = i7.subarray(32), A7 = i7.subarray(16);
  return P3(s7, s7), k4(A7, A7, s7), U4(r7, A7), 0;
}
function x4(r7, n7) {
  return m3(r7, n7, e2);
}
function R3(r7, n7, o7, t7) {
  for (var f7, e7, a7, i7, u7, l5, y7, c6, h6, w7, v6, s7, A7, M7, g6, U7, d5, b5, p4, K5, E7, k6, z6, P5, m5, x6, R6 = new Int32Array(16), I7 = new Int32Array(16), G6 = r7[0], N5 = r7[1], S6 = r7[2], V5 = r7[3], j6 = r7[4], T5 = r7[5], q6 = r7[6], B6 = r7[7], C7 = n7[0], D7 = n7[1], H6 = n7[2], J5 = n7[3], L4 = n7[4], O5 = n7[5], Q5 = n7[6], W4 = n7[7], X4 = 0; t7 >= 128; ) {
    for (p4 = 0; p4 < 16; p4++) K5 = 8 * p4 + X4, R6[p4] = o7[K5 + 0] << 24 | o7[K5 + 1] << 16 | o7[K5 + 2] << 8 | o7[K5 + 3], I7[p4] = o7[K5 + 4] << 24 | o7[K5 + 5] << 16 | o7[K5 + 6] << 8 | o7[K5 + 7];
    for (p4 = 0; p4 < 80; p4++) if (f7 = G6, e7 = N5, a7 = S6, i7 = V5, u7 = j6, l5 = T5, y7 = q6, B6, h6 = C7, w7 = D7, v6 = H6, s7 = J5, A7 = L4, M7 = O5, g6 = Q5, W4, z6 = 65535 & (k6 = W4), P5 = k6 >>> 16, m5 = 65535 & (E7 = B6), x6 = E7 >>> 16, z6 += 65535 & (k6 = (L4 >>> 14 | j6 << 18) ^ (L4 >>> 18 | j6 << 14) ^ (j6 >>> 9 | L4 << 23)), P5 += k6 >>> 16, m5 += 65535 & (E7 = (j6 >>> 14 | L4 << 18) ^ (j6 >>> 18 | L4 << 14) ^ (L4 >>> 9 | j6 << 23)), x6 += E7 >>> 16, z6 += 65535 & (k6 = L4 & O5 ^ ~L4 & Q5), P5 += k6 >>> 16, m5 += 65535 & (E7 = j6 & T5 ^ ~j6 & q6), x6 += E7 >>> 16, z6 += 65535 & (k6 = F4[2 * p4 + 1]), P5 += k6 >>> 16, m5 += 65535 & (E7 = F4[2 * p4]), x6 += E7 >>> 16, E7 = R6[p4 % 16], P5 += (k6 = I7[p4 % 16]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16, z6 = 65535 & (k6 = b5 = 65535 & z6 | P5 << 16), P5 = k6 >>> 16, m5 = 65535 & (E7 = d5 = 65535 & m5 | (x6 += m5 >>> 16) << 16), x6 = E7 >>> 16, z6 += 65535 & (k6 = (C7 >>> 28 | G6 << 4) ^ (G6 >>> 2 | C7 << 30) ^ (G6 >>> 7 | C7 << 25)), P5 += k6 >>> 16, m5 += 65535 & (E7 = (G6 >>> 28 | C7 << 4) ^ (C7 >>> 2 | G6 << 30) ^ (C7 >>> 7 | G6 << 25)), x6 += E7 >>> 16, P5 += (k6 = C7 & D7 ^ C7 & H6 ^ D7 & H6) >>> 16, m5 += 65535 & (E7 = G6 & N5 ^ G6 & S6 ^ N5 & S6), x6 += E7 >>> 16, c6 = 65535 & (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) | (x6 += m5 >>> 16) << 16, U7 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = s7), P5 = k6 >>> 16, m5 = 65535 & (E7 = i7), x6 = E7 >>> 16, P5 += (k6 = b5) >>> 16, m5 += 65535 & (E7 = d5), x6 += E7 >>> 16, N5 = f7, S6 = e7, V5 = a7, j6 = i7 = 65535 & (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) | (x6 += m5 >>> 16) << 16, T5 = u7, q6 = l5, B6 = y7, G6 = c6, D7 = h6, H6 = w7, J5 = v6, L4 = s7 = 65535 & z6 | P5 << 16, O5 = A7, Q5 = M7, W4 = g6, C7 = U7, p4 % 16 == 15) for (K5 = 0; K5 < 16; K5++) E7 = R6[K5], z6 = 65535 & (k6 = I7[K5]), P5 = k6 >>> 16, m5 = 65535 & E7, x6 = E7 >>> 16, E7 = R6[(K5 + 9) % 16], z6 += 65535 & (k6 = I7[(K5 + 9) % 16]), P5 += k6 >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, d5 = R6[(K5 + 1) % 16], z6 += 65535 & (k6 = ((b5 = I7[(K5 + 1) % 16]) >>> 1 | d5 << 31) ^ (b5 >>> 8 | d5 << 24) ^ (b5 >>> 7 | d5 << 25)), P5 += k6 >>> 16, m5 += 65535 & (E7 = (d5 >>> 1 | b5 << 31) ^ (d5 >>> 8 | b5 << 24) ^ d5 >>> 7), x6 += E7 >>> 16, d5 = R6[(K5 + 14) % 16], P5 += (k6 = ((b5 = I7[(K5 + 14) % 16]) >>> 19 | d5 << 13) ^ (d5 >>> 29 | b5 << 3) ^ (b5 >>> 6 | d5 << 26)) >>> 16, m5 += 65535 & (E7 = (d5 >>> 19 | b5 << 13) ^ (b5 >>> 29 | d5 << 3) ^ d5 >>> 6), x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, R6[K5] = 65535 & m5 | x6 << 16, I7[K5] = 65535 & z6 | P5 << 16;
    z6 = 65535 & (k6 = C7), P5 = k6 >>> 16, m5 = 65535 & (E7 = G6), x6 = E7 >>> 16, E7 = r7[0], P5 += (k6 = n7[0]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[0] = G6 = 65535 & m5 | x6 << 16, n7[0] = C7 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = D7), P5 = k6 >>> 16, m5 = 65535 & (E7 = N5), x6 = E7 >>> 16, E7 = r7[1], P5 += (k6 = n7[1]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[1] = N5 = 65535 & m5 | x6 << 16, n7[1] = D7 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = H6), P5 = k6 >>> 16, m5 = 65535 & (E7 = S6), x6 = E7 >>> 16, E7 = r7[2], P5 += (k6 = n7[2]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[2] = S6 = 65535 & m5 | x6 << 16, n7[2] = H6 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = J5), P5 = k6 >>> 16, m5 = 65535 & (E7 = V5), x6 = E7 >>> 16, E7 = r7[3], P5 += (k6 = n7[3]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[3] = V5 = 65535 & m5 | x6 << 16, n7[3] = J5 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = L4), P5 = k6 >>> 16, m5 = 65535 & (E7 = j6), x6 = E7 >>> 16, E7 = r7[4], P5 += (k6 = n7[4]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[4] = j6 = 65535 & m5 | x6 << 16, n7[4] = L4 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = O5), P5 = k6 >>> 16, m5 = 65535 & (E7 = T5), x6 = E7 >>> 16, E7 = r7[5], P5 += (k6 = n7[5]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[5] = T5 = 65535 & m5 | x6 << 16, n7[5] = O5 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = Q5), P5 = k6 >>> 16, m5 = 65535 & (E7 = q6), x6 = E7 >>> 16, E7 = r7[6], P5 += (k6 = n7[6]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[6] = q6 = 65535 & m5 | x6 << 16, n7[6] = Q5 = 65535 & z6 | P5 << 16, z6 = 65535 & (k6 = W4), P5 = k6 >>> 16, m5 = 65535 & (E7 = B6), x6 = E7 >>> 16, E7 = r7[7], P5 += (k6 = n7[7]) >>> 16, m5 += 65535 & E7, x6 += E7 >>> 16, x6 += (m5 += (P5 += (z6 += 65535 & k6) >>> 16) >>> 16) >>> 16, r7[7] = B6 = 65535 & m5 | x6 << 16, n7[7] = W4 = 65535 & z6 | P5 << 16, X4 += 128, t7 -= 128;
  }
  return t7;
}
function I4(r7, n7, o7) {
  var t7, f7 = new Int32Array(8), e7 = new Int32Array(8), a7 = new Uint8Array(256), i7 = o7;
  for (f7[0] = 1779033703, f7[1] = 3144134277, f7[2] = 1013904242, f7[3] = 2773480762, f7[4] = 1359893119, f7[5] = 2600822924, f7[6] = 528734635, f7[7] = 1541459225, e7[0] = 4089235720, e7[1] = 2227873595, e7[2] = 4271175723, e7[3] = 1595750129, e7[4] = 2917565137, e7[5] = 725511199, e7[6] = 4215389547, e7[7] = 327033209, R3(f7, e7, n7, o7), o7 %= 128, t7 = 0; t7 < o7; t7++) a7[t7] = n7[i7 - o7 + t7];
  for (a7[o7] = 128, a7[(o7 = 256 - 128 * (o7 < 112 ? 1 : 0)) - 9] = 0, v4(a7, o7 - 8, i7 / 536870912 | 0, i7 << 3), R3(f7, e7, a7, o7), t7 = 0; t7 < 8; t7++) v4(r7, 8 * t7, f7[t7], e7[t7]);
  return 0;
}
function G4(r7, n7) {
  var o7 = t2(), f7 = t2(), e7 = t2(), a7 = t2(), i7 = t2(), u7 = t2(), l5 = t2(), c6 = t2(), h6 = t2();
  E4(o7, r7[1], r7[0]), E4(h6, n7[1], n7[0]), k4(o7, o7, h6), K3(f7, r7[0], r7[1]), K3(h6, n7[0], n7[1]), k4(f7, f7, h6), k4(e7, r7[3], n7[3]), k4(e7, e7, y3), k4(a7, r7[2], n7[2]), K3(a7, a7, a7), E4(i7, f7, o7), E4(u7, a7, e7), K3(l5, a7, e7), K3(c6, f7, o7), k4(r7[0], i7, u7), k4(r7[1], c6, l5), k4(r7[2], l5, u7), k4(r7[3], i7, c6);
}
function N3(r7, n7, o7) {
  var t7;
  for (t7 = 0; t7 < 4; t7++) g3(r7[t7], n7[t7], o7);
}
function S3(r7, n7) {
  var o7 = t2(), f7 = t2(), e7 = t2();
  P3(e7, n7[2]), k4(o7, n7[0], e7), k4(f7, n7[1], e7), U4(r7, f7), r7[31] ^= b3(o7) << 7;
}
function V3(r7, n7, o7) {
  var t7, f7;
  for (A4(r7[0], a2), A4(r7[1], i2), A4(r7[2], i2), A4(r7[3], a2), f7 = 255; f7 >= 0; --f7) N3(r7, n7, t7 = o7[f7 / 8 | 0] >> (7 & f7) & 1), G4(n7, r7), G4(r7, r7), N3(r7, n7, t7);
}
function j4(r7, n7) {
  var o7 = [t2(), t2(), t2(), t2()];
  A4(o7[0], c2), A4(o7[1], h2), A4(o7[2], i2), k4(o7[3], c2, h2), V3(r7, o7, n7);
}
function T3(r7, n7, o7) {
  var e7, a7 = new Uint8Array(64), i7 = [t2(), t2(), t2(), t2()];
  for (o7 || f2(n7, 32), I4(a7, n7, 32), a7[0] &= 248, a7[31] &= 127, a7[31] |= 64, j4(i7, a7), S3(r7, i7), e7 = 0; e7 < 32; e7++) n7[e7 + 32] = r7[e7];
  return 0;
}
function B3(r7, n7) {
  var o7, t7, f7, e7;
  for (t7 = 63; t7 >= 32; --t7) {
    for (o7 = 0, f7 = t7 - 32, e7 = t7 - 12; f7 < e7; ++f7) n7[f7] += o7 - 16 * n7[t7] * q4[f7 - (t7 - 32)], o7 = Math.floor((n7[f7] + 128) / 256), n7[f7] -= 256 * o7;
    n7[f7] += o7, n7[t7] = 0;
  }
  for (o7 = 0, f7 = 0; f7 < 32; f7++) n7[f7] += o7 - (n7[31] >> 4) * q4[f7], o7 = n7[f7] >> 8, n7[f7] &= 255;
  for (f7 = 0; f7 < 32; f7++) n7[f7] -= o7 * q4[f7];
  for (t7 = 0; t7 < 32; t7++) n7[t7 + 1] += n7[t7] >> 8, r7[t7] = 255 & n7[t7];
}
function C4(r7) {
  var n7, o7 = new Float64Array(64);
  for (n7 = 0; n7 < 64; n7++) o7[n7] = r7[n7];
  for (n7 = 0; n7 < 64; n7++) r7[n7] = 0;
  B3(r7, o7);
}
function D4(r7, n7) {
  var o7 = t2(), f7 = t2(), e7 = t2(), u7 = t2(), y7 = t2(), c6 = t2(), h6 = t2();
  return A4(r7[2], i2), p2(r7[1], n7), z4(e7, r7[1]), k4(u7, e7, l2), E4(e7, e7, r7[2]), K3(u7, r7[2], u7), z4(y7, u7), z4(c6, y7), k4(h6, c6, y7), k4(o7, h6, e7), k4(o7, o7, u7), (function(r8, n8) {
    var o8, f8 = t2();
    for (o8 = 0; o8 < 16; o8++) f8[o8] = n8[o8];
    for (o8 = 250; o8 >= 0; o8--) z4(f8, f8), 1 !== o8 && k4(f8, f8, n8);
    for (o8 = 0; o8 < 16; o8++) r8[o8] = f8[o8];
  })(o7, o7), k4(o7, o7, e7), k4(o7, o7, u7), k4(o7, o7, u7), k4(r7[0], o7, u7), z4(f7, r7[0]), k4(f7, f7, u7), d3(f7, e7) && k4(r7[0], r7[0], w4), z4(f7, r7[0]), k4(f7, f7, u7), d3(f7, e7) ? -1 : (b3(r7[0]) === n7[31] >> 7 && E4(r7[0], a2, r7[0]), k4(r7[3], r7[0], r7[1]), 0);
}
function J3() {
  for (var r7 = 0; r7 < arguments.length; r7++) if (!(arguments[r7] instanceof Uint8Array)) throw new TypeError("unexpected type, use Uint8Array");
}
var r2, n2, o2, t2, f2, e2, a2, i2, u3, l2, y3, c2, h2, w4, F4, q4, H4;
var init_nacl_fast_min = __esm({
  "node_modules/openpgp/dist/lightweight/nacl-fast.min.mjs"() {
    r2 = "undefined" != typeof window ? window : "undefined" != typeof global ? global : "undefined" != typeof self ? self : {};
    n2 = "object" == typeof r2 && "crypto" in r2 ? r2.crypto : void 0;
    o2 = {};
    t2 = function(r7) {
      var n7, o7 = new Float64Array(16);
      if (r7) for (n7 = 0; n7 < r7.length; n7++) o7[n7] = r7[n7];
      return o7;
    };
    f2 = function() {
      throw Error("no PRNG");
    };
    e2 = new Uint8Array(32);
    e2[0] = 9;
    a2 = t2();
    i2 = t2([1]);
    u3 = t2([56129, 1]);
    l2 = t2([30883, 4953, 19914, 30187, 55467, 16705, 2637, 112, 59544, 30585, 16505, 36039, 65139, 11119, 27886, 20995]);
    y3 = t2([61785, 9906, 39828, 60374, 45398, 33411, 5274, 224, 53552, 61171, 33010, 6542, 64743, 22239, 55772, 9222]);
    c2 = t2([54554, 36645, 11616, 51542, 42930, 38181, 51040, 26924, 56412, 64982, 57905, 49316, 21502, 52590, 14035, 8553]);
    h2 = t2([26200, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214, 26214]);
    w4 = t2([41136, 18958, 6951, 50414, 58488, 44335, 6150, 12099, 55207, 15867, 153, 11085, 57099, 20417, 9344, 11139]);
    F4 = [1116352408, 3609767458, 1899447441, 602891725, 3049323471, 3964484399, 3921009573, 2173295548, 961987163, 4081628472, 1508970993, 3053834265, 2453635748, 2937671579, 2870763221, 3664609560, 3624381080, 2734883394, 310598401, 1164996542, 607225278, 1323610764, 1426881987, 3590304994, 1925078388, 4068182383, 2162078206, 991336113, 2614888103, 633803317, 3248222580, 3479774868, 3835390401, 2666613458, 4022224774, 944711139, 264347078, 2341262773, 604807628, 2007800933, 770255983, 1495990901, 1249150122, 1856431235, 1555081692, 3175218132, 1996064986, 2198950837, 2554220882, 3999719339, 2821834349, 766784016, 2952996808, 2566594879, 3210313671, 3203337956, 3336571891, 1034457026, 3584528711, 2466948901, 113926993, 3758326383, 338241895, 168717936, 666307205, 1188179964, 773529912, 1546045734, 1294757372, 1522805485, 1396182291, 2643833823, 1695183700, 2343527390, 1986661051, 1014477480, 2177026350, 1206759142, 2456956037, 344077627, 2730485921, 1290863460, 2820302411, 3158454273, 3259730800, 3505952657, 3345764771, 106217008, 3516065817, 3606008344, 3600352804, 1432725776, 4094571909, 1467031594, 275423344, 851169720, 430227734, 3100823752, 506948616, 1363258195, 659060556, 3750685593, 883997877, 3785050280, 958139571, 3318307427, 1322822218, 3812723403, 1537002063, 2003034995, 1747873779, 3602036899, 1955562222, 1575990012, 2024104815, 1125592928, 2227730452, 2716904306, 2361852424, 442776044, 2428436474, 593698344, 2756734187, 3733110249, 3204031479, 2999351573, 3329325298, 3815920427, 3391569614, 3928383900, 3515267271, 566280711, 3940187606, 3454069534, 4118630271, 4000239992, 116418474, 1914138554, 174292421, 2731055270, 289380356, 3203993006, 460393269, 320620315, 685471733, 587496836, 852142971, 1086792851, 1017036298, 365543100, 1126000580, 2618297676, 1288033470, 3409855158, 1501505948, 4234509866, 1607167915, 987167468, 1816402316, 1246189591];
    q4 = new Float64Array([237, 211, 245, 92, 26, 99, 18, 88, 214, 156, 247, 162, 222, 249, 222, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16]);
    H4 = 64;
    o2.scalarMult = function(r7, n7) {
      if (J3(r7, n7), 32 !== r7.length) throw Error("bad n size");
      if (32 !== n7.length) throw Error("bad p size");
      var o7 = new Uint8Array(32);
      return m3(o7, r7, n7), o7;
    }, o2.box = {}, o2.box.keyPair = function() {
      var r7, n7, o7 = new Uint8Array(32), t7 = new Uint8Array(32);
      return r7 = o7, f2(n7 = t7, 32), x4(r7, n7), { publicKey: o7, secretKey: t7 };
    }, o2.box.keyPair.fromSecretKey = function(r7) {
      if (J3(r7), 32 !== r7.length) throw Error("bad secret key size");
      var n7 = new Uint8Array(32);
      return x4(n7, r7), { publicKey: n7, secretKey: new Uint8Array(r7) };
    }, o2.sign = function(r7, n7) {
      if (J3(r7, n7), 64 !== n7.length) throw Error("bad secret key size");
      var o7 = new Uint8Array(H4 + r7.length);
      return (function(r8, n8, o8, f7) {
        var e7, a7, i7 = new Uint8Array(64), u7 = new Uint8Array(64), l5 = new Uint8Array(64), y7 = new Float64Array(64), c6 = [t2(), t2(), t2(), t2()];
        I4(i7, f7, 32), i7[0] &= 248, i7[31] &= 127, i7[31] |= 64;
        var h6 = o8 + 64;
        for (e7 = 0; e7 < o8; e7++) r8[64 + e7] = n8[e7];
        for (e7 = 0; e7 < 32; e7++) r8[32 + e7] = i7[32 + e7];
        for (I4(l5, r8.subarray(32), o8 + 32), C4(l5), j4(c6, l5), S3(r8, c6), e7 = 32; e7 < 64; e7++) r8[e7] = f7[e7];
        for (I4(u7, r8, o8 + 64), C4(u7), e7 = 0; e7 < 64; e7++) y7[e7] = 0;
        for (e7 = 0; e7 < 32; e7++) y7[e7] = l5[e7];
        for (e7 = 0; e7 < 32; e7++) for (a7 = 0; a7 < 32; a7++) y7[e7 + a7] += u7[e7] * i7[a7];
        B3(r8.subarray(32), y7);
      })(o7, r7, r7.length, n7), o7;
    }, o2.sign.detached = function(r7, n7) {
      for (var t7 = o2.sign(r7, n7), f7 = new Uint8Array(H4), e7 = 0; e7 < f7.length; e7++) f7[e7] = t7[e7];
      return f7;
    }, o2.sign.detached.verify = function(r7, n7, o7) {
      if (J3(r7, n7, o7), n7.length !== H4) throw Error("bad signature size");
      if (32 !== o7.length) throw Error("bad public key size");
      var f7, e7 = new Uint8Array(H4 + r7.length), a7 = new Uint8Array(H4 + r7.length);
      for (f7 = 0; f7 < H4; f7++) e7[f7] = n7[f7];
      for (f7 = 0; f7 < r7.length; f7++) e7[f7 + H4] = r7[f7];
      return (function(r8, n8, o8, f8) {
        var e8, a8 = new Uint8Array(32), i7 = new Uint8Array(64), u7 = [t2(), t2(), t2(), t2()], l5 = [t2(), t2(), t2(), t2()];
        if (o8 < 64) return -1;
        if (D4(l5, f8)) return -1;
        for (e8 = 0; e8 < o8; e8++) r8[e8] = n8[e8];
        for (e8 = 0; e8 < 32; e8++) r8[e8 + 32] = f8[e8];
        if (I4(i7, r8, o8), C4(i7), V3(u7, l5, i7), j4(l5, n8.subarray(32)), G4(u7, l5), S3(a8, u7), o8 -= 64, s2(n8, 0, a8, 0)) {
          for (e8 = 0; e8 < o8; e8++) r8[e8] = 0;
          return -1;
        }
        for (e8 = 0; e8 < o8; e8++) r8[e8] = n8[e8 + 64];
        return o8;
      })(a7, e7, e7.length, o7) >= 0;
    }, o2.sign.keyPair = function() {
      var r7 = new Uint8Array(32), n7 = new Uint8Array(64);
      return T3(r7, n7), { publicKey: r7, secretKey: n7 };
    }, o2.sign.keyPair.fromSecretKey = function(r7) {
      if (J3(r7), 64 !== r7.length) throw Error("bad secret key size");
      for (var n7 = new Uint8Array(32), o7 = 0; o7 < n7.length; o7++) n7[o7] = r7[32 + o7];
      return { publicKey: n7, secretKey: new Uint8Array(r7) };
    }, o2.sign.keyPair.fromSeed = function(r7) {
      if (J3(r7), 32 !== r7.length) throw Error("bad seed size");
      for (var n7 = new Uint8Array(32), o7 = new Uint8Array(64), t7 = 0; t7 < 32; t7++) o7[t7] = r7[t7];
      return T3(n7, o7, true), { publicKey: n7, secretKey: o7 };
    }, o2.setPRNG = function(r7) {
      f2 = r7;
    }, (function() {
      if (n2 && n2.getRandomValues) {
        o2.setPRNG((function(r7, o7) {
          var t7, f7 = new Uint8Array(o7);
          for (t7 = 0; t7 < o7; t7 += 65536) n2.getRandomValues(f7.subarray(t7, t7 + Math.min(o7 - t7, 65536)));
          for (t7 = 0; t7 < o7; t7++) r7[t7] = f7[t7];
          !(function(r8) {
            for (var n7 = 0; n7 < r8.length; n7++) r8[n7] = 0;
          })(f7);
        }));
      }
    })();
  }
});

// node_modules/openpgp/dist/lightweight/legacy_ciphers.min.mjs
var legacy_ciphers_min_exports = {};
__export(legacy_ciphers_min_exports, {
  legacyCiphers: () => y4
});
function t3(t7, i7, e7, n7, s7, o7) {
  const r7 = [16843776, 0, 65536, 16843780, 16842756, 66564, 4, 65536, 1024, 16843776, 16843780, 1024, 16778244, 16842756, 16777216, 4, 1028, 16778240, 16778240, 66560, 66560, 16842752, 16842752, 16778244, 65540, 16777220, 16777220, 65540, 0, 1028, 66564, 16777216, 65536, 16843780, 4, 16842752, 16843776, 16777216, 16777216, 1024, 16842756, 65536, 66560, 16777220, 1024, 4, 16778244, 66564, 16843780, 65540, 16842752, 16778244, 16777220, 1028, 66564, 16843776, 1028, 16778240, 16778240, 0, 65540, 66560, 0, 16842756], h6 = [-2146402272, -2147450880, 32768, 1081376, 1048576, 32, -2146435040, -2147450848, -2147483616, -2146402272, -2146402304, -2147483648, -2147450880, 1048576, 32, -2146435040, 1081344, 1048608, -2147450848, 0, -2147483648, 32768, 1081376, -2146435072, 1048608, -2147483616, 0, 1081344, 32800, -2146402304, -2146435072, 32800, 0, 1081376, -2146435040, 1048576, -2147450848, -2146435072, -2146402304, 32768, -2146435072, -2147450880, 32, -2146402272, 1081376, 32, 32768, -2147483648, 32800, -2146402304, 1048576, -2147483616, 1048608, -2147450848, -2147483616, 1048608, 1081344, 0, -2147450880, 32800, -2147483648, -2146435040, -2146402272, 1081344], c6 = [520, 134349312, 0, 134348808, 134218240, 0, 131592, 134218240, 131080, 134217736, 134217736, 131072, 134349320, 131080, 134348800, 520, 134217728, 8, 134349312, 512, 131584, 134348800, 134348808, 131592, 134218248, 131584, 131072, 134218248, 8, 134349320, 512, 134217728, 134349312, 134217728, 131080, 520, 131072, 134349312, 134218240, 0, 512, 131080, 134349320, 134218240, 134217736, 512, 0, 134348808, 134218248, 131072, 134217728, 134349320, 8, 131592, 131584, 134217736, 134348800, 134218248, 520, 134348800, 131592, 8, 134348808, 131584], a7 = [8396801, 8321, 8321, 128, 8396928, 8388737, 8388609, 8193, 0, 8396800, 8396800, 8396929, 129, 0, 8388736, 8388609, 1, 8192, 8388608, 8396801, 128, 8388608, 8193, 8320, 8388737, 1, 8320, 8388736, 8192, 8396928, 8396929, 129, 8388736, 8388609, 8396800, 8396929, 129, 0, 0, 8396800, 8320, 8388736, 8388737, 1, 8396801, 8321, 8321, 128, 8396929, 129, 1, 8192, 8388609, 8193, 8396928, 8388737, 8193, 8320, 8388608, 8396801, 128, 8388608, 8192, 8396928], f7 = [256, 34078976, 34078720, 1107296512, 524288, 256, 1073741824, 34078720, 1074266368, 524288, 33554688, 1074266368, 1107296512, 1107820544, 524544, 1073741824, 33554432, 1074266112, 1074266112, 0, 1073742080, 1107820800, 1107820800, 33554688, 1107820544, 1073742080, 0, 1107296256, 34078976, 33554432, 1107296256, 524544, 524288, 1107296512, 256, 33554432, 1073741824, 34078720, 1107296512, 1074266368, 33554688, 1073741824, 1107820544, 34078976, 1074266368, 256, 33554432, 1107820544, 1107820800, 524544, 1107296256, 1107820800, 34078720, 0, 1074266112, 1107296256, 524544, 33554688, 1073742080, 524288, 0, 1074266112, 34078976, 1073742080], l5 = [536870928, 541065216, 16384, 541081616, 541065216, 16, 541081616, 4194304, 536887296, 4210704, 4194304, 536870928, 4194320, 536887296, 536870912, 16400, 0, 4194320, 536887312, 16384, 4210688, 536887312, 16, 541065232, 541065232, 0, 4210704, 541081600, 16400, 4210688, 541081600, 536870912, 536887296, 16, 541065232, 4210688, 541081616, 4194304, 16400, 536870928, 4194304, 536887296, 536870912, 16400, 536870928, 541081616, 4210688, 541065216, 4210704, 541081600, 0, 541065232, 16, 16384, 541065216, 4210704, 16384, 4194320, 536887312, 0, 541081600, 536870912, 4194320, 536887312], u7 = [2097152, 69206018, 67110914, 0, 2048, 67110914, 2099202, 69208064, 69208066, 2097152, 0, 67108866, 2, 67108864, 69206018, 2050, 67110912, 2099202, 2097154, 67110912, 67108866, 69206016, 69208064, 2097154, 69206016, 2048, 2050, 69208066, 2099200, 2, 67108864, 2099200, 67108864, 2099200, 2097152, 67110914, 67110914, 69206018, 69206018, 2, 2097154, 67108864, 67110912, 2097152, 69208064, 2050, 2099202, 69208064, 2050, 67108866, 69208066, 69206016, 2099200, 0, 2, 69208066, 0, 2099202, 69206016, 2048, 67108866, 67110912, 2048, 2097154], y7 = [268439616, 4096, 262144, 268701760, 268435456, 268439616, 64, 268435456, 262208, 268697600, 268701760, 266240, 268701696, 266304, 4096, 64, 268697600, 268435520, 268439552, 4160, 266240, 262208, 268697664, 268701696, 4160, 0, 0, 268697664, 268435520, 268439552, 266304, 262144, 266304, 262144, 268701696, 4096, 64, 268697664, 4096, 266304, 268439552, 64, 268435520, 268697600, 268697664, 268435456, 262144, 268439616, 0, 268701760, 262208, 268435520, 268697600, 268439552, 268439616, 0, 268701760, 266240, 266240, 4160, 4160, 262208, 268435456, 268701696];
  let p4, k6, g6, m5, S6, b5, z6, d5, w7, A7, B6 = 0, N5 = i7.length;
  const _5 = 32 === t7.length ? 3 : 9;
  d5 = 3 === _5 ? e7 ? [0, 32, 2] : [30, -2, -2] : e7 ? [0, 32, 2, 62, 30, -2, 64, 96, 2] : [94, 62, -2, 32, 64, 2, 30, -2, -2], e7 && (i7 = (function(t8) {
    const i8 = 8 - t8.length % 8;
    let e8;
    if (!(i8 < 8)) {
      if (8 === i8) return t8;
      throw Error("des: invalid padding");
    }
    e8 = 0;
    const n8 = new Uint8Array(t8.length + i8);
    for (let i9 = 0; i9 < t8.length; i9++) n8[i9] = t8[i9];
    for (let s8 = 0; s8 < i8; s8++) n8[t8.length + s8] = e8;
    return n8;
  })(i7), N5 = i7.length);
  let x6 = new Uint8Array(N5), E7 = 0;
  for (; B6 < N5; ) {
    for (b5 = i7[B6++] << 24 | i7[B6++] << 16 | i7[B6++] << 8 | i7[B6++], z6 = i7[B6++] << 24 | i7[B6++] << 16 | i7[B6++] << 8 | i7[B6++], g6 = 252645135 & (b5 >>> 4 ^ z6), z6 ^= g6, b5 ^= g6 << 4, g6 = 65535 & (b5 >>> 16 ^ z6), z6 ^= g6, b5 ^= g6 << 16, g6 = 858993459 & (z6 >>> 2 ^ b5), b5 ^= g6, z6 ^= g6 << 2, g6 = 16711935 & (z6 >>> 8 ^ b5), b5 ^= g6, z6 ^= g6 << 8, g6 = 1431655765 & (b5 >>> 1 ^ z6), z6 ^= g6, b5 ^= g6 << 1, b5 = b5 << 1 | b5 >>> 31, z6 = z6 << 1 | z6 >>> 31, k6 = 0; k6 < _5; k6 += 3) {
      for (w7 = d5[k6 + 1], A7 = d5[k6 + 2], p4 = d5[k6]; p4 !== w7; p4 += A7) m5 = z6 ^ t7[p4], S6 = (z6 >>> 4 | z6 << 28) ^ t7[p4 + 1], g6 = b5, b5 = z6, z6 = g6 ^ (h6[m5 >>> 24 & 63] | a7[m5 >>> 16 & 63] | l5[m5 >>> 8 & 63] | y7[63 & m5] | r7[S6 >>> 24 & 63] | c6[S6 >>> 16 & 63] | f7[S6 >>> 8 & 63] | u7[63 & S6]);
      g6 = b5, b5 = z6, z6 = g6;
    }
    b5 = b5 >>> 1 | b5 << 31, z6 = z6 >>> 1 | z6 << 31, g6 = 1431655765 & (b5 >>> 1 ^ z6), z6 ^= g6, b5 ^= g6 << 1, g6 = 16711935 & (z6 >>> 8 ^ b5), b5 ^= g6, z6 ^= g6 << 8, g6 = 858993459 & (z6 >>> 2 ^ b5), b5 ^= g6, z6 ^= g6 << 2, g6 = 65535 & (b5 >>> 16 ^ z6), z6 ^= g6, b5 ^= g6 << 16, g6 = 252645135 & (b5 >>> 4 ^ z6), z6 ^= g6, b5 ^= g6 << 4, x6[E7++] = b5 >>> 24, x6[E7++] = b5 >>> 16 & 255, x6[E7++] = b5 >>> 8 & 255, x6[E7++] = 255 & b5, x6[E7++] = z6 >>> 24, x6[E7++] = z6 >>> 16 & 255, x6[E7++] = z6 >>> 8 & 255, x6[E7++] = 255 & z6;
  }
  return e7 || (x6 = (function(t8) {
    let i8, e8 = null;
    if (i8 = 0, !e8) {
      for (e8 = 1; t8[t8.length - e8] === i8; ) e8++;
      e8--;
    }
    return t8.subarray(0, t8.length - e8);
  })(x6)), x6;
}
function i3(t7) {
  const i7 = [0, 4, 536870912, 536870916, 65536, 65540, 536936448, 536936452, 512, 516, 536871424, 536871428, 66048, 66052, 536936960, 536936964], e7 = [0, 1, 1048576, 1048577, 67108864, 67108865, 68157440, 68157441, 256, 257, 1048832, 1048833, 67109120, 67109121, 68157696, 68157697], n7 = [0, 8, 2048, 2056, 16777216, 16777224, 16779264, 16779272, 0, 8, 2048, 2056, 16777216, 16777224, 16779264, 16779272], s7 = [0, 2097152, 134217728, 136314880, 8192, 2105344, 134225920, 136323072, 131072, 2228224, 134348800, 136445952, 139264, 2236416, 134356992, 136454144], o7 = [0, 262144, 16, 262160, 0, 262144, 16, 262160, 4096, 266240, 4112, 266256, 4096, 266240, 4112, 266256], r7 = [0, 1024, 32, 1056, 0, 1024, 32, 1056, 33554432, 33555456, 33554464, 33555488, 33554432, 33555456, 33554464, 33555488], h6 = [0, 268435456, 524288, 268959744, 2, 268435458, 524290, 268959746, 0, 268435456, 524288, 268959744, 2, 268435458, 524290, 268959746], c6 = [0, 65536, 2048, 67584, 536870912, 536936448, 536872960, 536938496, 131072, 196608, 133120, 198656, 537001984, 537067520, 537004032, 537069568], a7 = [0, 262144, 0, 262144, 2, 262146, 2, 262146, 33554432, 33816576, 33554432, 33816576, 33554434, 33816578, 33554434, 33816578], f7 = [0, 268435456, 8, 268435464, 0, 268435456, 8, 268435464, 1024, 268436480, 1032, 268436488, 1024, 268436480, 1032, 268436488], l5 = [0, 32, 0, 32, 1048576, 1048608, 1048576, 1048608, 8192, 8224, 8192, 8224, 1056768, 1056800, 1056768, 1056800], u7 = [0, 16777216, 512, 16777728, 2097152, 18874368, 2097664, 18874880, 67108864, 83886080, 67109376, 83886592, 69206016, 85983232, 69206528, 85983744], y7 = [0, 4096, 134217728, 134221824, 524288, 528384, 134742016, 134746112, 16, 4112, 134217744, 134221840, 524304, 528400, 134742032, 134746128], p4 = [0, 4, 256, 260, 0, 4, 256, 260, 1, 5, 257, 261, 1, 5, 257, 261], k6 = t7.length > 8 ? 3 : 1, g6 = Array(32 * k6), m5 = [0, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0];
  let S6, b5, z6, d5 = 0, w7 = 0;
  for (let A7 = 0; A7 < k6; A7++) {
    let k7 = t7[d5++] << 24 | t7[d5++] << 16 | t7[d5++] << 8 | t7[d5++], A8 = t7[d5++] << 24 | t7[d5++] << 16 | t7[d5++] << 8 | t7[d5++];
    z6 = 252645135 & (k7 >>> 4 ^ A8), A8 ^= z6, k7 ^= z6 << 4, z6 = 65535 & (A8 >>> -16 ^ k7), k7 ^= z6, A8 ^= z6 << -16, z6 = 858993459 & (k7 >>> 2 ^ A8), A8 ^= z6, k7 ^= z6 << 2, z6 = 65535 & (A8 >>> -16 ^ k7), k7 ^= z6, A8 ^= z6 << -16, z6 = 1431655765 & (k7 >>> 1 ^ A8), A8 ^= z6, k7 ^= z6 << 1, z6 = 16711935 & (A8 >>> 8 ^ k7), k7 ^= z6, A8 ^= z6 << 8, z6 = 1431655765 & (k7 >>> 1 ^ A8), A8 ^= z6, k7 ^= z6 << 1, z6 = k7 << 8 | A8 >>> 20 & 240, k7 = A8 << 24 | A8 << 8 & 16711680 | A8 >>> 8 & 65280 | A8 >>> 24 & 240, A8 = z6;
    for (let t8 = 0; t8 < 16; t8++) m5[t8] ? (k7 = k7 << 2 | k7 >>> 26, A8 = A8 << 2 | A8 >>> 26) : (k7 = k7 << 1 | k7 >>> 27, A8 = A8 << 1 | A8 >>> 27), k7 &= -15, A8 &= -15, S6 = i7[k7 >>> 28] | e7[k7 >>> 24 & 15] | n7[k7 >>> 20 & 15] | s7[k7 >>> 16 & 15] | o7[k7 >>> 12 & 15] | r7[k7 >>> 8 & 15] | h6[k7 >>> 4 & 15], b5 = c6[A8 >>> 28] | a7[A8 >>> 24 & 15] | f7[A8 >>> 20 & 15] | l5[A8 >>> 16 & 15] | u7[A8 >>> 12 & 15] | y7[A8 >>> 8 & 15] | p4[A8 >>> 4 & 15], z6 = 65535 & (b5 >>> 16 ^ S6), g6[w7++] = S6 ^ z6, g6[w7++] = b5 ^ z6 << 16;
  }
  return g6;
}
function e3(e7) {
  this.key = [];
  for (let t7 = 0; t7 < 3; t7++) this.key.push(new Uint8Array(e7.subarray(8 * t7, 8 * t7 + 8)));
  this.encrypt = function(e8) {
    return t3(i3(this.key[2]), t3(i3(this.key[1]), t3(i3(this.key[0]), e8, true), false), true);
  };
}
function n3() {
  this.BlockSize = 8, this.KeySize = 16, this.setKey = function(t8) {
    if (this.masking = Array(16), this.rotate = Array(16), this.reset(), t8.length !== this.KeySize) throw Error("CAST-128: keys must be 16 bytes");
    return this.keySchedule(t8), true;
  }, this.reset = function() {
    for (let t8 = 0; t8 < 16; t8++) this.masking[t8] = 0, this.rotate[t8] = 0;
  }, this.getBlockSize = function() {
    return this.BlockSize;
  }, this.encrypt = function(t8) {
    const i8 = Array(t8.length);
    for (let o8 = 0; o8 < t8.length; o8 += 8) {
      let r7, h6 = t8[o8] << 24 | t8[o8 + 1] << 16 | t8[o8 + 2] << 8 | t8[o8 + 3], c6 = t8[o8 + 4] << 24 | t8[o8 + 5] << 16 | t8[o8 + 6] << 8 | t8[o8 + 7];
      r7 = c6, c6 = h6 ^ e7(c6, this.masking[0], this.rotate[0]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[1], this.rotate[1]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[2], this.rotate[2]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[3], this.rotate[3]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[4], this.rotate[4]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[5], this.rotate[5]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[6], this.rotate[6]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[7], this.rotate[7]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[8], this.rotate[8]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[9], this.rotate[9]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[10], this.rotate[10]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[11], this.rotate[11]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[12], this.rotate[12]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[13], this.rotate[13]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[14], this.rotate[14]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[15], this.rotate[15]), h6 = r7, i8[o8] = c6 >>> 24 & 255, i8[o8 + 1] = c6 >>> 16 & 255, i8[o8 + 2] = c6 >>> 8 & 255, i8[o8 + 3] = 255 & c6, i8[o8 + 4] = h6 >>> 24 & 255, i8[o8 + 5] = h6 >>> 16 & 255, i8[o8 + 6] = h6 >>> 8 & 255, i8[o8 + 7] = 255 & h6;
    }
    return i8;
  }, this.decrypt = function(t8) {
    const i8 = Array(t8.length);
    for (let o8 = 0; o8 < t8.length; o8 += 8) {
      let r7, h6 = t8[o8] << 24 | t8[o8 + 1] << 16 | t8[o8 + 2] << 8 | t8[o8 + 3], c6 = t8[o8 + 4] << 24 | t8[o8 + 5] << 16 | t8[o8 + 6] << 8 | t8[o8 + 7];
      r7 = c6, c6 = h6 ^ e7(c6, this.masking[15], this.rotate[15]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[14], this.rotate[14]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[13], this.rotate[13]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[12], this.rotate[12]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[11], this.rotate[11]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[10], this.rotate[10]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[9], this.rotate[9]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[8], this.rotate[8]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[7], this.rotate[7]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[6], this.rotate[6]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[5], this.rotate[5]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[4], this.rotate[4]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[3], this.rotate[3]), h6 = r7, r7 = c6, c6 = h6 ^ s7(c6, this.masking[2], this.rotate[2]), h6 = r7, r7 = c6, c6 = h6 ^ n7(c6, this.masking[1], this.rotate[1]), h6 = r7, r7 = c6, c6 = h6 ^ e7(c6, this.masking[0], this.rotate[0]), h6 = r7, i8[o8] = c6 >>> 24 & 255, i8[o8 + 1] = c6 >>> 16 & 255, i8[o8 + 2] = c6 >>> 8 & 255, i8[o8 + 3] = 255 & c6, i8[o8 + 4] = h6 >>> 24 & 255, i8[o8 + 5] = h6 >> 16 & 255, i8[o8 + 6] = h6 >> 8 & 255, i8[o8 + 7] = 255 & h6;
    }
    return i8;
  };
  const t7 = [, , , ,];
  t7[0] = [, , , ,], t7[0][0] = [4, 0, 13, 15, 12, 14, 8], t7[0][1] = [5, 2, 16, 18, 17, 19, 10], t7[0][2] = [6, 3, 23, 22, 21, 20, 9], t7[0][3] = [7, 1, 26, 25, 27, 24, 11], t7[1] = [, , , ,], t7[1][0] = [0, 6, 21, 23, 20, 22, 16], t7[1][1] = [1, 4, 0, 2, 1, 3, 18], t7[1][2] = [2, 5, 7, 6, 5, 4, 17], t7[1][3] = [3, 7, 10, 9, 11, 8, 19], t7[2] = [, , , ,], t7[2][0] = [4, 0, 13, 15, 12, 14, 8], t7[2][1] = [5, 2, 16, 18, 17, 19, 10], t7[2][2] = [6, 3, 23, 22, 21, 20, 9], t7[2][3] = [7, 1, 26, 25, 27, 24, 11], t7[3] = [, , , ,], t7[3][0] = [0, 6, 21, 23, 20, 22, 16], t7[3][1] = [1, 4, 0, 2, 1, 3, 18], t7[3][2] = [2, 5, 7, 6, 5, 4, 17], t7[3][3] = [3, 7, 10, 9, 11, 8, 19];
  const i7 = [, , , ,];
  function e7(t8, i8, e8) {
    const n8 = i8 + t8, s8 = n8 << e8 | n8 >>> 32 - e8;
    return (o7[0][s8 >>> 24] ^ o7[1][s8 >>> 16 & 255]) - o7[2][s8 >>> 8 & 255] + o7[3][255 & s8];
  }
  function n7(t8, i8, e8) {
    const n8 = i8 ^ t8, s8 = n8 << e8 | n8 >>> 32 - e8;
    return o7[0][s8 >>> 24] - o7[1][s8 >>> 16 & 255] + o7[2][s8 >>> 8 & 255] ^ o7[3][255 & s8];
  }
  function s7(t8, i8, e8) {
    const n8 = i8 - t8, s8 = n8 << e8 | n8 >>> 32 - e8;
    return (o7[0][s8 >>> 24] + o7[1][s8 >>> 16 & 255] ^ o7[2][s8 >>> 8 & 255]) - o7[3][255 & s8];
  }
  i7[0] = [, , , ,], i7[0][0] = [24, 25, 23, 22, 18], i7[0][1] = [26, 27, 21, 20, 22], i7[0][2] = [28, 29, 19, 18, 25], i7[0][3] = [30, 31, 17, 16, 28], i7[1] = [, , , ,], i7[1][0] = [3, 2, 12, 13, 8], i7[1][1] = [1, 0, 14, 15, 13], i7[1][2] = [7, 6, 8, 9, 3], i7[1][3] = [5, 4, 10, 11, 7], i7[2] = [, , , ,], i7[2][0] = [19, 18, 28, 29, 25], i7[2][1] = [17, 16, 30, 31, 28], i7[2][2] = [23, 22, 24, 25, 18], i7[2][3] = [21, 20, 26, 27, 22], i7[3] = [, , , ,], i7[3][0] = [8, 9, 7, 6, 3], i7[3][1] = [10, 11, 5, 4, 7], i7[3][2] = [12, 13, 3, 2, 8], i7[3][3] = [14, 15, 1, 0, 13], this.keySchedule = function(e8) {
    const n8 = [, , , , , , , ,], s8 = Array(32);
    let r7;
    for (let t8 = 0; t8 < 4; t8++) r7 = 4 * t8, n8[t8] = e8[r7] << 24 | e8[r7 + 1] << 16 | e8[r7 + 2] << 8 | e8[r7 + 3];
    const h6 = [6, 7, 4, 5];
    let c6, a7 = 0;
    for (let e9 = 0; e9 < 2; e9++) for (let e10 = 0; e10 < 4; e10++) {
      for (r7 = 0; r7 < 4; r7++) {
        const i8 = t7[e10][r7];
        c6 = n8[i8[1]], c6 ^= o7[4][n8[i8[2] >>> 2] >>> 24 - 8 * (3 & i8[2]) & 255], c6 ^= o7[5][n8[i8[3] >>> 2] >>> 24 - 8 * (3 & i8[3]) & 255], c6 ^= o7[6][n8[i8[4] >>> 2] >>> 24 - 8 * (3 & i8[4]) & 255], c6 ^= o7[7][n8[i8[5] >>> 2] >>> 24 - 8 * (3 & i8[5]) & 255], c6 ^= o7[h6[r7]][n8[i8[6] >>> 2] >>> 24 - 8 * (3 & i8[6]) & 255], n8[i8[0]] = c6;
      }
      for (r7 = 0; r7 < 4; r7++) {
        const t8 = i7[e10][r7];
        c6 = o7[4][n8[t8[0] >>> 2] >>> 24 - 8 * (3 & t8[0]) & 255], c6 ^= o7[5][n8[t8[1] >>> 2] >>> 24 - 8 * (3 & t8[1]) & 255], c6 ^= o7[6][n8[t8[2] >>> 2] >>> 24 - 8 * (3 & t8[2]) & 255], c6 ^= o7[7][n8[t8[3] >>> 2] >>> 24 - 8 * (3 & t8[3]) & 255], c6 ^= o7[4 + r7][n8[t8[4] >>> 2] >>> 24 - 8 * (3 & t8[4]) & 255], s8[a7] = c6, a7++;
      }
    }
    for (let t8 = 0; t8 < 16; t8++) this.masking[t8] = s8[t8], this.rotate[t8] = 31 & s8[16 + t8];
  };
  const o7 = [, , , , , , , ,];
  o7[0] = [821772500, 2678128395, 1810681135, 1059425402, 505495343, 2617265619, 1610868032, 3483355465, 3218386727, 2294005173, 3791863952, 2563806837, 1852023008, 365126098, 3269944861, 584384398, 677919599, 3229601881, 4280515016, 2002735330, 1136869587, 3744433750, 2289869850, 2731719981, 2714362070, 879511577, 1639411079, 575934255, 717107937, 2857637483, 576097850, 2731753936, 1725645e3, 2810460463, 5111599, 767152862, 2543075244, 1251459544, 1383482551, 3052681127, 3089939183, 3612463449, 1878520045, 1510570527, 2189125840, 2431448366, 582008916, 3163445557, 1265446783, 1354458274, 3529918736, 3202711853, 3073581712, 3912963487, 3029263377, 1275016285, 4249207360, 2905708351, 3304509486, 1442611557, 3585198765, 2712415662, 2731849581, 3248163920, 2283946226, 208555832, 2766454743, 1331405426, 1447828783, 3315356441, 3108627284, 2957404670, 2981538698, 3339933917, 1669711173, 286233437, 1465092821, 1782121619, 3862771680, 710211251, 980974943, 1651941557, 430374111, 2051154026, 704238805, 4128970897, 3144820574, 2857402727, 948965521, 3333752299, 2227686284, 718756367, 2269778983, 2731643755, 718440111, 2857816721, 3616097120, 1113355533, 2478022182, 410092745, 1811985197, 1944238868, 2696854588, 1415722873, 1682284203, 1060277122, 1998114690, 1503841958, 82706478, 2315155686, 1068173648, 845149890, 2167947013, 1768146376, 1993038550, 3566826697, 3390574031, 940016341, 3355073782, 2328040721, 904371731, 1205506512, 4094660742, 2816623006, 825647681, 85914773, 2857843460, 1249926541, 1417871568, 3287612, 3211054559, 3126306446, 1975924523, 1353700161, 2814456437, 2438597621, 1800716203, 722146342, 2873936343, 1151126914, 4160483941, 2877670899, 458611604, 2866078500, 3483680063, 770352098, 2652916994, 3367839148, 3940505011, 3585973912, 3809620402, 718646636, 2504206814, 2914927912, 3631288169, 2857486607, 2860018678, 575749918, 2857478043, 718488780, 2069512688, 3548183469, 453416197, 1106044049, 3032691430, 52586708, 3378514636, 3459808877, 3211506028, 1785789304, 218356169, 3571399134, 3759170522, 1194783844, 1523787992, 3007827094, 1975193539, 2555452411, 1341901877, 3045838698, 3776907964, 3217423946, 2802510864, 2889438986, 1057244207, 1636348243, 3761863214, 1462225785, 2632663439, 481089165, 718503062, 24497053, 3332243209, 3344655856, 3655024856, 3960371065, 1195698900, 2971415156, 3710176158, 2115785917, 4027663609, 3525578417, 2524296189, 2745972565, 3564906415, 1372086093, 1452307862, 2780501478, 1476592880, 3389271281, 18495466, 2378148571, 901398090, 891748256, 3279637769, 3157290713, 2560960102, 1447622437, 4284372637, 216884176, 2086908623, 1879786977, 3588903153, 2242455666, 2938092967, 3559082096, 2810645491, 758861177, 1121993112, 215018983, 642190776, 4169236812, 1196255959, 2081185372, 3508738393, 941322904, 4124243163, 2877523539, 1848581667, 2205260958, 3180453958, 2589345134, 3694731276, 550028657, 2519456284, 3789985535, 2973870856, 2093648313, 443148163, 46942275, 2734146937, 1117713533, 1115362972, 1523183689, 3717140224, 1551984063], o7[1] = [522195092, 4010518363, 1776537470, 960447360, 4267822970, 4005896314, 1435016340, 1929119313, 2913464185, 1310552629, 3579470798, 3724818106, 2579771631, 1594623892, 417127293, 2715217907, 2696228731, 1508390405, 3994398868, 3925858569, 3695444102, 4019471449, 3129199795, 3770928635, 3520741761, 990456497, 4187484609, 2783367035, 21106139, 3840405339, 631373633, 3783325702, 532942976, 396095098, 3548038825, 4267192484, 2564721535, 2011709262, 2039648873, 620404603, 3776170075, 2898526339, 3612357925, 4159332703, 1645490516, 223693667, 1567101217, 3362177881, 1029951347, 3470931136, 3570957959, 1550265121, 119497089, 972513919, 907948164, 3840628539, 1613718692, 3594177948, 465323573, 2659255085, 654439692, 2575596212, 2699288441, 3127702412, 277098644, 624404830, 4100943870, 2717858591, 546110314, 2403699828, 3655377447, 1321679412, 4236791657, 1045293279, 4010672264, 895050893, 2319792268, 494945126, 1914543101, 2777056443, 3894764339, 2219737618, 311263384, 4275257268, 3458730721, 669096869, 3584475730, 3835122877, 3319158237, 3949359204, 2005142349, 2713102337, 2228954793, 3769984788, 569394103, 3855636576, 1425027204, 108000370, 2736431443, 3671869269, 3043122623, 1750473702, 2211081108, 762237499, 3972989403, 2798899386, 3061857628, 2943854345, 867476300, 964413654, 1591880597, 1594774276, 2179821409, 552026980, 3026064248, 3726140315, 2283577634, 3110545105, 2152310760, 582474363, 1582640421, 1383256631, 2043843868, 3322775884, 1217180674, 463797851, 2763038571, 480777679, 2718707717, 2289164131, 3118346187, 214354409, 200212307, 3810608407, 3025414197, 2674075964, 3997296425, 1847405948, 1342460550, 510035443, 4080271814, 815934613, 833030224, 1620250387, 1945732119, 2703661145, 3966000196, 1388869545, 3456054182, 2687178561, 2092620194, 562037615, 1356438536, 3409922145, 3261847397, 1688467115, 2150901366, 631725691, 3840332284, 549916902, 3455104640, 394546491, 837744717, 2114462948, 751520235, 2221554606, 2415360136, 3999097078, 2063029875, 803036379, 2702586305, 821456707, 3019566164, 360699898, 4018502092, 3511869016, 3677355358, 2402471449, 812317050, 49299192, 2570164949, 3259169295, 2816732080, 3331213574, 3101303564, 2156015656, 3705598920, 3546263921, 143268808, 3200304480, 1638124008, 3165189453, 3341807610, 578956953, 2193977524, 3638120073, 2333881532, 807278310, 658237817, 2969561766, 1641658566, 11683945, 3086995007, 148645947, 1138423386, 4158756760, 1981396783, 2401016740, 3699783584, 380097457, 2680394679, 2803068651, 3334260286, 441530178, 4016580796, 1375954390, 761952171, 891809099, 2183123478, 157052462, 3683840763, 1592404427, 341349109, 2438483839, 1417898363, 644327628, 2233032776, 2353769706, 2201510100, 220455161, 1815641738, 182899273, 2995019788, 3627381533, 3702638151, 2890684138, 1052606899, 588164016, 1681439879, 4038439418, 2405343923, 4229449282, 167996282, 1336969661, 1688053129, 2739224926, 1543734051, 1046297529, 1138201970, 2121126012, 115334942, 1819067631, 1902159161, 1941945968, 2206692869, 1159982321], o7[2] = [2381300288, 637164959, 3952098751, 3893414151, 1197506559, 916448331, 2350892612, 2932787856, 3199334847, 4009478890, 3905886544, 1373570990, 2450425862, 4037870920, 3778841987, 2456817877, 286293407, 124026297, 3001279700, 1028597854, 3115296800, 4208886496, 2691114635, 2188540206, 1430237888, 1218109995, 3572471700, 308166588, 570424558, 2187009021, 2455094765, 307733056, 1310360322, 3135275007, 1384269543, 2388071438, 863238079, 2359263624, 2801553128, 3380786597, 2831162807, 1470087780, 1728663345, 4072488799, 1090516929, 532123132, 2389430977, 1132193179, 2578464191, 3051079243, 1670234342, 1434557849, 2711078940, 1241591150, 3314043432, 3435360113, 3091448339, 1812415473, 2198440252, 267246943, 796911696, 3619716990, 38830015, 1526438404, 2806502096, 374413614, 2943401790, 1489179520, 1603809326, 1920779204, 168801282, 260042626, 2358705581, 1563175598, 2397674057, 1356499128, 2217211040, 514611088, 2037363785, 2186468373, 4022173083, 2792511869, 2913485016, 1173701892, 4200428547, 3896427269, 1334932762, 2455136706, 602925377, 2835607854, 1613172210, 41346230, 2499634548, 2457437618, 2188827595, 41386358, 4172255629, 1313404830, 2405527007, 3801973774, 2217704835, 873260488, 2528884354, 2478092616, 4012915883, 2555359016, 2006953883, 2463913485, 575479328, 2218240648, 2099895446, 660001756, 2341502190, 3038761536, 3888151779, 3848713377, 3286851934, 1022894237, 1620365795, 3449594689, 1551255054, 15374395, 3570825345, 4249311020, 4151111129, 3181912732, 310226346, 1133119310, 530038928, 136043402, 2476768958, 3107506709, 2544909567, 1036173560, 2367337196, 1681395281, 1758231547, 3641649032, 306774401, 1575354324, 3716085866, 1990386196, 3114533736, 2455606671, 1262092282, 3124342505, 2768229131, 4210529083, 1833535011, 423410938, 660763973, 2187129978, 1639812e3, 3508421329, 3467445492, 310289298, 272797111, 2188552562, 2456863912, 310240523, 677093832, 1013118031, 901835429, 3892695601, 1116285435, 3036471170, 1337354835, 243122523, 520626091, 277223598, 4244441197, 4194248841, 1766575121, 594173102, 316590669, 742362309, 3536858622, 4176435350, 3838792410, 2501204839, 1229605004, 3115755532, 1552908988, 2312334149, 979407927, 3959474601, 1148277331, 176638793, 3614686272, 2083809052, 40992502, 1340822838, 2731552767, 3535757508, 3560899520, 1354035053, 122129617, 7215240, 2732932949, 3118912700, 2718203926, 2539075635, 3609230695, 3725561661, 1928887091, 2882293555, 1988674909, 2063640240, 2491088897, 1459647954, 4189817080, 2302804382, 1113892351, 2237858528, 1927010603, 4002880361, 1856122846, 1594404395, 2944033133, 3855189863, 3474975698, 1643104450, 4054590833, 3431086530, 1730235576, 2984608721, 3084664418, 2131803598, 4178205752, 267404349, 1617849798, 1616132681, 1462223176, 736725533, 2327058232, 551665188, 2945899023, 1749386277, 2575514597, 1611482493, 674206544, 2201269090, 3642560800, 728599968, 1680547377, 2620414464, 1388111496, 453204106, 4156223445, 1094905244, 2754698257, 2201108165, 3757000246, 2704524545, 3922940700, 3996465027], o7[3] = [2645754912, 532081118, 2814278639, 3530793624, 1246723035, 1689095255, 2236679235, 4194438865, 2116582143, 3859789411, 157234593, 2045505824, 4245003587, 1687664561, 4083425123, 605965023, 672431967, 1336064205, 3376611392, 214114848, 4258466608, 3232053071, 489488601, 605322005, 3998028058, 264917351, 1912574028, 756637694, 436560991, 202637054, 135989450, 85393697, 2152923392, 3896401662, 2895836408, 2145855233, 3535335007, 115294817, 3147733898, 1922296357, 3464822751, 4117858305, 1037454084, 2725193275, 2127856640, 1417604070, 1148013728, 1827919605, 642362335, 2929772533, 909348033, 1346338451, 3547799649, 297154785, 1917849091, 4161712827, 2883604526, 3968694238, 1469521537, 3780077382, 3375584256, 1763717519, 136166297, 4290970789, 1295325189, 2134727907, 2798151366, 1566297257, 3672928234, 2677174161, 2672173615, 965822077, 2780786062, 289653839, 1133871874, 3491843819, 35685304, 1068898316, 418943774, 672553190, 642281022, 2346158704, 1954014401, 3037126780, 4079815205, 2030668546, 3840588673, 672283427, 1776201016, 359975446, 3750173538, 555499703, 2769985273, 1324923, 69110472, 152125443, 3176785106, 3822147285, 1340634837, 798073664, 1434183902, 15393959, 216384236, 1303690150, 3881221631, 3711134124, 3960975413, 106373927, 2578434224, 1455997841, 1801814300, 1578393881, 1854262133, 3188178946, 3258078583, 2302670060, 1539295533, 3505142565, 3078625975, 2372746020, 549938159, 3278284284, 2620926080, 181285381, 2865321098, 3970029511, 68876850, 488006234, 1728155692, 2608167508, 836007927, 2435231793, 919367643, 3339422534, 3655756360, 1457871481, 40520939, 1380155135, 797931188, 234455205, 2255801827, 3990488299, 397000196, 739833055, 3077865373, 2871719860, 4022553888, 772369276, 390177364, 3853951029, 557662966, 740064294, 1640166671, 1699928825, 3535942136, 622006121, 3625353122, 68743880, 1742502, 219489963, 1664179233, 1577743084, 1236991741, 410585305, 2366487942, 823226535, 1050371084, 3426619607, 3586839478, 212779912, 4147118561, 1819446015, 1911218849, 530248558, 3486241071, 3252585495, 2886188651, 3410272728, 2342195030, 20547779, 2982490058, 3032363469, 3631753222, 312714466, 1870521650, 1493008054, 3491686656, 615382978, 4103671749, 2534517445, 1932181, 2196105170, 278426614, 6369430, 3274544417, 2913018367, 697336853, 2143000447, 2946413531, 701099306, 1558357093, 2805003052, 3500818408, 2321334417, 3567135975, 216290473, 3591032198, 23009561, 1996984579, 3735042806, 2024298078, 3739440863, 569400510, 2339758983, 3016033873, 3097871343, 3639523026, 3844324983, 3256173865, 795471839, 2951117563, 4101031090, 4091603803, 3603732598, 971261452, 534414648, 428311343, 3389027175, 2844869880, 694888862, 1227866773, 2456207019, 3043454569, 2614353370, 3749578031, 3676663836, 459166190, 4132644070, 1794958188, 51825668, 2252611902, 3084671440, 2036672799, 3436641603, 1099053433, 2469121526, 3059204941, 1323291266, 2061838604, 1018778475, 2233344254, 2553501054, 334295216, 3556750194, 1065731521, 183467730], o7[4] = [2127105028, 745436345, 2601412319, 2788391185, 3093987327, 500390133, 1155374404, 389092991, 150729210, 3891597772, 3523549952, 1935325696, 716645080, 946045387, 2901812282, 1774124410, 3869435775, 4039581901, 3293136918, 3438657920, 948246080, 363898952, 3867875531, 1286266623, 1598556673, 68334250, 630723836, 1104211938, 1312863373, 613332731, 2377784574, 1101634306, 441780740, 3129959883, 1917973735, 2510624549, 3238456535, 2544211978, 3308894634, 1299840618, 4076074851, 1756332096, 3977027158, 297047435, 3790297736, 2265573040, 3621810518, 1311375015, 1667687725, 47300608, 3299642885, 2474112369, 201668394, 1468347890, 576830978, 3594690761, 3742605952, 1958042578, 1747032512, 3558991340, 1408974056, 3366841779, 682131401, 1033214337, 1545599232, 4265137049, 206503691, 103024618, 2855227313, 1337551222, 2428998917, 2963842932, 4015366655, 3852247746, 2796956967, 3865723491, 3747938335, 247794022, 3755824572, 702416469, 2434691994, 397379957, 851939612, 2314769512, 218229120, 1380406772, 62274761, 214451378, 3170103466, 2276210409, 3845813286, 28563499, 446592073, 1693330814, 3453727194, 29968656, 3093872512, 220656637, 2470637031, 77972100, 1667708854, 1358280214, 4064765667, 2395616961, 325977563, 4277240721, 4220025399, 3605526484, 3355147721, 811859167, 3069544926, 3962126810, 652502677, 3075892249, 4132761541, 3498924215, 1217549313, 3250244479, 3858715919, 3053989961, 1538642152, 2279026266, 2875879137, 574252750, 3324769229, 2651358713, 1758150215, 141295887, 2719868960, 3515574750, 4093007735, 4194485238, 1082055363, 3417560400, 395511885, 2966884026, 179534037, 3646028556, 3738688086, 1092926436, 2496269142, 257381841, 3772900718, 1636087230, 1477059743, 2499234752, 3811018894, 2675660129, 3285975680, 90732309, 1684827095, 1150307763, 1723134115, 3237045386, 1769919919, 1240018934, 815675215, 750138730, 2239792499, 1234303040, 1995484674, 138143821, 675421338, 1145607174, 1936608440, 3238603024, 2345230278, 2105974004, 323969391, 779555213, 3004902369, 2861610098, 1017501463, 2098600890, 2628620304, 2940611490, 2682542546, 1171473753, 3656571411, 3687208071, 4091869518, 393037935, 159126506, 1662887367, 1147106178, 391545844, 3452332695, 1891500680, 3016609650, 1851642611, 546529401, 1167818917, 3194020571, 2848076033, 3953471836, 575554290, 475796850, 4134673196, 450035699, 2351251534, 844027695, 1080539133, 86184846, 1554234488, 3692025454, 1972511363, 2018339607, 1491841390, 1141460869, 1061690759, 4244549243, 2008416118, 2351104703, 2868147542, 1598468138, 722020353, 1027143159, 212344630, 1387219594, 1725294528, 3745187956, 2500153616, 458938280, 4129215917, 1828119673, 544571780, 3503225445, 2297937496, 1241802790, 267843827, 2694610800, 1397140384, 1558801448, 3782667683, 1806446719, 929573330, 2234912681, 400817706, 616011623, 4121520928, 3603768725, 1761550015, 1968522284, 4053731006, 4192232858, 4005120285, 872482584, 3140537016, 3894607381, 2287405443, 1963876937, 3663887957, 1584857e3, 2975024454, 1833426440, 4025083860], o7[5] = [4143615901, 749497569, 1285769319, 3795025788, 2514159847, 23610292, 3974978748, 844452780, 3214870880, 3751928557, 2213566365, 1676510905, 448177848, 3730751033, 4086298418, 2307502392, 871450977, 3222878141, 4110862042, 3831651966, 2735270553, 1310974780, 2043402188, 1218528103, 2736035353, 4274605013, 2702448458, 3936360550, 2693061421, 162023535, 2827510090, 687910808, 23484817, 3784910947, 3371371616, 779677500, 3503626546, 3473927188, 4157212626, 3500679282, 4248902014, 2466621104, 3899384794, 1958663117, 925738300, 1283408968, 3669349440, 1840910019, 137959847, 2679828185, 1239142320, 1315376211, 1547541505, 1690155329, 739140458, 3128809933, 3933172616, 3876308834, 905091803, 1548541325, 4040461708, 3095483362, 144808038, 451078856, 676114313, 2861728291, 2469707347, 993665471, 373509091, 2599041286, 4025009006, 4170239449, 2149739950, 3275793571, 3749616649, 2794760199, 1534877388, 572371878, 2590613551, 1753320020, 3467782511, 1405125690, 4270405205, 633333386, 3026356924, 3475123903, 632057672, 2846462855, 1404951397, 3882875879, 3915906424, 195638627, 2385783745, 3902872553, 1233155085, 3355999740, 2380578713, 2702246304, 2144565621, 3663341248, 3894384975, 2502479241, 4248018925, 3094885567, 1594115437, 572884632, 3385116731, 767645374, 1331858858, 1475698373, 3793881790, 3532746431, 1321687957, 619889600, 1121017241, 3440213920, 2070816767, 2833025776, 1933951238, 4095615791, 890643334, 3874130214, 859025556, 360630002, 925594799, 1764062180, 3920222280, 4078305929, 979562269, 2810700344, 4087740022, 1949714515, 546639971, 1165388173, 3069891591, 1495988560, 922170659, 1291546247, 2107952832, 1813327274, 3406010024, 3306028637, 4241950635, 153207855, 2313154747, 1608695416, 1150242611, 1967526857, 721801357, 1220138373, 3691287617, 3356069787, 2112743302, 3281662835, 1111556101, 1778980689, 250857638, 2298507990, 673216130, 2846488510, 3207751581, 3562756981, 3008625920, 3417367384, 2198807050, 529510932, 3547516680, 3426503187, 2364944742, 102533054, 2294910856, 1617093527, 1204784762, 3066581635, 1019391227, 1069574518, 1317995090, 1691889997, 3661132003, 510022745, 3238594800, 1362108837, 1817929911, 2184153760, 805817662, 1953603311, 3699844737, 120799444, 2118332377, 207536705, 2282301548, 4120041617, 145305846, 2508124933, 3086745533, 3261524335, 1877257368, 2977164480, 3160454186, 2503252186, 4221677074, 759945014, 254147243, 2767453419, 3801518371, 629083197, 2471014217, 907280572, 3900796746, 940896768, 2751021123, 2625262786, 3161476951, 3661752313, 3260732218, 1425318020, 2977912069, 1496677566, 3988592072, 2140652971, 3126511541, 3069632175, 977771578, 1392695845, 1698528874, 1411812681, 1369733098, 1343739227, 3620887944, 1142123638, 67414216, 3102056737, 3088749194, 1626167401, 2546293654, 3941374235, 697522451, 33404913, 143560186, 2595682037, 994885535, 1247667115, 3859094837, 2699155541, 3547024625, 4114935275, 2968073508, 3199963069, 2732024527, 1237921620, 951448369, 1898488916, 1211705605, 2790989240, 2233243581, 3598044975], o7[6] = [2246066201, 858518887, 1714274303, 3485882003, 713916271, 2879113490, 3730835617, 539548191, 36158695, 1298409750, 419087104, 1358007170, 749914897, 2989680476, 1261868530, 2995193822, 2690628854, 3443622377, 3780124940, 3796824509, 2976433025, 4259637129, 1551479e3, 512490819, 1296650241, 951993153, 2436689437, 2460458047, 144139966, 3136204276, 310820559, 3068840729, 643875328, 1969602020, 1680088954, 2185813161, 3283332454, 672358534, 198762408, 896343282, 276269502, 3014846926, 84060815, 197145886, 376173866, 3943890818, 3813173521, 3545068822, 1316698879, 1598252827, 2633424951, 1233235075, 859989710, 2358460855, 3503838400, 3409603720, 1203513385, 1193654839, 2792018475, 2060853022, 207403770, 1144516871, 3068631394, 1121114134, 177607304, 3785736302, 326409831, 1929119770, 2983279095, 4183308101, 3474579288, 3200513878, 3228482096, 119610148, 1170376745, 3378393471, 3163473169, 951863017, 3337026068, 3135789130, 2907618374, 1183797387, 2015970143, 4045674555, 2182986399, 2952138740, 3928772205, 384012900, 2454997643, 10178499, 2879818989, 2596892536, 111523738, 2995089006, 451689641, 3196290696, 235406569, 1441906262, 3890558523, 3013735005, 4158569349, 1644036924, 376726067, 1006849064, 3664579700, 2041234796, 1021632941, 1374734338, 2566452058, 371631263, 4007144233, 490221539, 206551450, 3140638584, 1053219195, 1853335209, 3412429660, 3562156231, 735133835, 1623211703, 3104214392, 2738312436, 4096837757, 3366392578, 3110964274, 3956598718, 3196820781, 2038037254, 3877786376, 2339753847, 300912036, 3766732888, 2372630639, 1516443558, 4200396704, 1574567987, 4069441456, 4122592016, 2699739776, 146372218, 2748961456, 2043888151, 35287437, 2596680554, 655490400, 1132482787, 110692520, 1031794116, 2188192751, 1324057718, 1217253157, 919197030, 686247489, 3261139658, 1028237775, 3135486431, 3059715558, 2460921700, 986174950, 2661811465, 4062904701, 2752986992, 3709736643, 367056889, 1353824391, 731860949, 1650113154, 1778481506, 784341916, 357075625, 3608602432, 1074092588, 2480052770, 3811426202, 92751289, 877911070, 3600361838, 1231880047, 480201094, 3756190983, 3094495953, 434011822, 87971354, 363687820, 1717726236, 1901380172, 3926403882, 2481662265, 400339184, 1490350766, 2661455099, 1389319756, 2558787174, 784598401, 1983468483, 30828846, 3550527752, 2716276238, 3841122214, 1765724805, 1955612312, 1277890269, 1333098070, 1564029816, 2704417615, 1026694237, 3287671188, 1260819201, 3349086767, 1016692350, 1582273796, 1073413053, 1995943182, 694588404, 1025494639, 3323872702, 3551898420, 4146854327, 453260480, 1316140391, 1435673405, 3038941953, 3486689407, 1622062951, 403978347, 817677117, 950059133, 4246079218, 3278066075, 1486738320, 1417279718, 481875527, 2549965225, 3933690356, 760697757, 1452955855, 3897451437, 1177426808, 1702951038, 4085348628, 2447005172, 1084371187, 3516436277, 3068336338, 1073369276, 1027665953, 3284188590, 1230553676, 1368340146, 2226246512, 267243139, 2274220762, 4070734279, 2497715176, 2423353163, 2504755875], o7[7] = [3793104909, 3151888380, 2817252029, 895778965, 2005530807, 3871412763, 237245952, 86829237, 296341424, 3851759377, 3974600970, 2475086196, 709006108, 1994621201, 2972577594, 937287164, 3734691505, 168608556, 3189338153, 2225080640, 3139713551, 3033610191, 3025041904, 77524477, 185966941, 1208824168, 2344345178, 1721625922, 3354191921, 1066374631, 1927223579, 1971335949, 2483503697, 1551748602, 2881383779, 2856329572, 3003241482, 48746954, 1398218158, 2050065058, 313056748, 4255789917, 393167848, 1912293076, 940740642, 3465845460, 3091687853, 2522601570, 2197016661, 1727764327, 364383054, 492521376, 1291706479, 3264136376, 1474851438, 1685747964, 2575719748, 1619776915, 1814040067, 970743798, 1561002147, 2925768690, 2123093554, 1880132620, 3151188041, 697884420, 2550985770, 2607674513, 2659114323, 110200136, 1489731079, 997519150, 1378877361, 3527870668, 478029773, 2766872923, 1022481122, 431258168, 1112503832, 897933369, 2635587303, 669726182, 3383752315, 918222264, 163866573, 3246985393, 3776823163, 114105080, 1903216136, 761148244, 3571337562, 1690750982, 3166750252, 1037045171, 1888456500, 2010454850, 642736655, 616092351, 365016990, 1185228132, 4174898510, 1043824992, 2023083429, 2241598885, 3863320456, 3279669087, 3674716684, 108438443, 2132974366, 830746235, 606445527, 4173263986, 2204105912, 1844756978, 2532684181, 4245352700, 2969441100, 3796921661, 1335562986, 4061524517, 2720232303, 2679424040, 634407289, 885462008, 3294724487, 3933892248, 2094100220, 339117932, 4048830727, 3202280980, 1458155303, 2689246273, 1022871705, 2464987878, 3714515309, 353796843, 2822958815, 4256850100, 4052777845, 551748367, 618185374, 3778635579, 4020649912, 1904685140, 3069366075, 2670879810, 3407193292, 2954511620, 4058283405, 2219449317, 3135758300, 1120655984, 3447565834, 1474845562, 3577699062, 550456716, 3466908712, 2043752612, 881257467, 869518812, 2005220179, 938474677, 3305539448, 3850417126, 1315485940, 3318264702, 226533026, 965733244, 321539988, 1136104718, 804158748, 573969341, 3708209826, 937399083, 3290727049, 2901666755, 1461057207, 4013193437, 4066861423, 3242773476, 2421326174, 1581322155, 3028952165, 786071460, 3900391652, 3918438532, 1485433313, 4023619836, 3708277595, 3678951060, 953673138, 1467089153, 1930354364, 1533292819, 2492563023, 1346121658, 1685000834, 1965281866, 3765933717, 4190206607, 2052792609, 3515332758, 690371149, 3125873887, 2180283551, 2903598061, 3933952357, 436236910, 289419410, 14314871, 1242357089, 2904507907, 1616633776, 2666382180, 585885352, 3471299210, 2699507360, 1432659641, 277164553, 3354103607, 770115018, 2303809295, 3741942315, 3177781868, 2853364978, 2269453327, 3774259834, 987383833, 1290892879, 225909803, 1741533526, 890078084, 1496906255, 1111072499, 916028167, 243534141, 1252605537, 2204162171, 531204876, 290011180, 3916834213, 102027703, 237315147, 209093447, 1486785922, 220223953, 2758195998, 4175039106, 82940208, 3127791296, 2569425252, 518464269, 1353887104, 3941492737, 2377294467, 3935040926];
}
function s3(t7) {
  this.cast5 = new n3(), this.cast5.setKey(t7), this.encrypt = function(t8) {
    return this.cast5.encrypt(t8);
  };
}
function r3(t7, i7) {
  return (t7 << i7 | t7 >>> 32 - i7) & o3;
}
function h3(t7, i7) {
  return t7[i7] | t7[i7 + 1] << 8 | t7[i7 + 2] << 16 | t7[i7 + 3] << 24;
}
function c3(t7, i7, e7) {
  t7.splice(i7, 4, 255 & e7, e7 >>> 8 & 255, e7 >>> 16 & 255, e7 >>> 24 & 255);
}
function a3(t7, i7) {
  return t7 >>> 8 * i7 & 255;
}
function f3(t7) {
  this.tf = /* @__PURE__ */ (function() {
    let t8 = null, i7 = null, e7 = -1, n7 = [], s7 = [[], [], [], []];
    function f7(t9) {
      return s7[0][a3(t9, 0)] ^ s7[1][a3(t9, 1)] ^ s7[2][a3(t9, 2)] ^ s7[3][a3(t9, 3)];
    }
    function l5(t9) {
      return s7[0][a3(t9, 3)] ^ s7[1][a3(t9, 0)] ^ s7[2][a3(t9, 1)] ^ s7[3][a3(t9, 2)];
    }
    function u7(t9, i8) {
      let e8 = f7(i8[0]), s8 = l5(i8[1]);
      i8[2] = r3(i8[2] ^ e8 + s8 + n7[4 * t9 + 8] & o3, 31), i8[3] = r3(i8[3], 1) ^ e8 + 2 * s8 + n7[4 * t9 + 9] & o3, e8 = f7(i8[2]), s8 = l5(i8[3]), i8[0] = r3(i8[0] ^ e8 + s8 + n7[4 * t9 + 10] & o3, 31), i8[1] = r3(i8[1], 1) ^ e8 + 2 * s8 + n7[4 * t9 + 11] & o3;
    }
    function y7(t9, i8) {
      let e8 = f7(i8[0]), s8 = l5(i8[1]);
      i8[2] = r3(i8[2], 1) ^ e8 + s8 + n7[4 * t9 + 10] & o3, i8[3] = r3(i8[3] ^ e8 + 2 * s8 + n7[4 * t9 + 11] & o3, 31), e8 = f7(i8[2]), s8 = l5(i8[3]), i8[0] = r3(i8[0], 1) ^ e8 + s8 + n7[4 * t9 + 8] & o3, i8[1] = r3(i8[1] ^ e8 + 2 * s8 + n7[4 * t9 + 9] & o3, 31);
    }
    return { name: "twofish", blocksize: 16, open: function(i8) {
      let e8, c6, f8, l6, u8;
      t8 = i8;
      const y8 = [], p4 = [], k6 = [];
      let g6;
      const m5 = [];
      let S6, b5, z6;
      const d5 = [[8, 1, 7, 13, 6, 15, 3, 2, 0, 11, 5, 9, 14, 12, 10, 4], [2, 8, 11, 13, 15, 7, 6, 14, 3, 1, 9, 4, 0, 10, 12, 5]], w7 = [[14, 12, 11, 8, 1, 2, 3, 5, 15, 4, 10, 6, 7, 0, 9, 13], [1, 14, 2, 11, 4, 12, 3, 7, 6, 13, 10, 5, 15, 9, 0, 8]], A7 = [[11, 10, 5, 14, 6, 13, 9, 0, 12, 8, 15, 3, 2, 4, 7, 1], [4, 12, 7, 5, 1, 6, 9, 10, 0, 14, 13, 8, 2, 11, 3, 15]], B6 = [[13, 7, 15, 4, 1, 2, 6, 14, 9, 11, 3, 0, 8, 5, 12, 10], [11, 9, 5, 1, 12, 3, 13, 14, 6, 4, 7, 15, 2, 0, 8, 10]], N5 = [0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15], _5 = [0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 5, 14, 7], x6 = [[], []], E7 = [[], [], [], []];
      function K5(t9) {
        return t9 ^ t9 >> 2 ^ [0, 90, 180, 238][3 & t9];
      }
      function O5(t9) {
        return t9 ^ t9 >> 1 ^ t9 >> 2 ^ [0, 238, 180, 90][3 & t9];
      }
      function C7(t9, i9) {
        let e9, n8, s8;
        for (e9 = 0; e9 < 8; e9++) n8 = i9 >>> 24, i9 = i9 << 8 & o3 | t9 >>> 24, t9 = t9 << 8 & o3, s8 = n8 << 1, 128 & n8 && (s8 ^= 333), i9 ^= n8 ^ s8 << 16, s8 ^= n8 >>> 1, 1 & n8 && (s8 ^= 166), i9 ^= s8 << 24 | s8 << 8;
        return i9;
      }
      function I7(t9, i9) {
        const e9 = i9 >> 4, n8 = 15 & i9, s8 = d5[t9][e9 ^ n8], o7 = w7[t9][N5[n8] ^ _5[e9]];
        return B6[t9][N5[o7] ^ _5[s8]] << 4 | A7[t9][s8 ^ o7];
      }
      function L4(t9, i9) {
        let e9 = a3(t9, 0), n8 = a3(t9, 1), s8 = a3(t9, 2), o7 = a3(t9, 3);
        switch (g6) {
          case 4:
            e9 = x6[1][e9] ^ a3(i9[3], 0), n8 = x6[0][n8] ^ a3(i9[3], 1), s8 = x6[0][s8] ^ a3(i9[3], 2), o7 = x6[1][o7] ^ a3(i9[3], 3);
          case 3:
            e9 = x6[1][e9] ^ a3(i9[2], 0), n8 = x6[1][n8] ^ a3(i9[2], 1), s8 = x6[0][s8] ^ a3(i9[2], 2), o7 = x6[0][o7] ^ a3(i9[2], 3);
          case 2:
            e9 = x6[0][x6[0][e9] ^ a3(i9[1], 0)] ^ a3(i9[0], 0), n8 = x6[0][x6[1][n8] ^ a3(i9[1], 1)] ^ a3(i9[0], 1), s8 = x6[1][x6[0][s8] ^ a3(i9[1], 2)] ^ a3(i9[0], 2), o7 = x6[1][x6[1][o7] ^ a3(i9[1], 3)] ^ a3(i9[0], 3);
        }
        return E7[0][e9] ^ E7[1][n8] ^ E7[2][s8] ^ E7[3][o7];
      }
      for (t8 = t8.slice(0, 32), e8 = t8.length; 16 !== e8 && 24 !== e8 && 32 !== e8; ) t8[e8++] = 0;
      for (e8 = 0; e8 < t8.length; e8 += 4) k6[e8 >> 2] = h3(t8, e8);
      for (e8 = 0; e8 < 256; e8++) x6[0][e8] = I7(0, e8), x6[1][e8] = I7(1, e8);
      for (e8 = 0; e8 < 256; e8++) S6 = x6[1][e8], b5 = K5(S6), z6 = O5(S6), E7[0][e8] = S6 + (b5 << 8) + (z6 << 16) + (z6 << 24), E7[2][e8] = b5 + (z6 << 8) + (S6 << 16) + (z6 << 24), S6 = x6[0][e8], b5 = K5(S6), z6 = O5(S6), E7[1][e8] = z6 + (z6 << 8) + (b5 << 16) + (S6 << 24), E7[3][e8] = b5 + (S6 << 8) + (z6 << 16) + (b5 << 24);
      for (g6 = k6.length / 2, e8 = 0; e8 < g6; e8++) c6 = k6[e8 + e8], y8[e8] = c6, f8 = k6[e8 + e8 + 1], p4[e8] = f8, m5[g6 - e8 - 1] = C7(c6, f8);
      for (e8 = 0; e8 < 40; e8 += 2) c6 = 16843009 * e8, f8 = c6 + 16843009, c6 = L4(c6, y8), f8 = r3(L4(f8, p4), 8), n7[e8] = c6 + f8 & o3, n7[e8 + 1] = r3(c6 + 2 * f8, 9);
      for (e8 = 0; e8 < 256; e8++) switch (c6 = f8 = l6 = u8 = e8, g6) {
        case 4:
          c6 = x6[1][c6] ^ a3(m5[3], 0), f8 = x6[0][f8] ^ a3(m5[3], 1), l6 = x6[0][l6] ^ a3(m5[3], 2), u8 = x6[1][u8] ^ a3(m5[3], 3);
        case 3:
          c6 = x6[1][c6] ^ a3(m5[2], 0), f8 = x6[1][f8] ^ a3(m5[2], 1), l6 = x6[0][l6] ^ a3(m5[2], 2), u8 = x6[0][u8] ^ a3(m5[2], 3);
        case 2:
          s7[0][e8] = E7[0][x6[0][x6[0][c6] ^ a3(m5[1], 0)] ^ a3(m5[0], 0)], s7[1][e8] = E7[1][x6[0][x6[1][f8] ^ a3(m5[1], 1)] ^ a3(m5[0], 1)], s7[2][e8] = E7[2][x6[1][x6[0][l6] ^ a3(m5[1], 2)] ^ a3(m5[0], 2)], s7[3][e8] = E7[3][x6[1][x6[1][u8] ^ a3(m5[1], 3)] ^ a3(m5[0], 3)];
      }
    }, close: function() {
      n7 = [], s7 = [[], [], [], []];
    }, encrypt: function(t9, s8) {
      i7 = t9, e7 = s8;
      const o7 = [h3(i7, e7) ^ n7[0], h3(i7, e7 + 4) ^ n7[1], h3(i7, e7 + 8) ^ n7[2], h3(i7, e7 + 12) ^ n7[3]];
      for (let t10 = 0; t10 < 8; t10++) u7(t10, o7);
      return c3(i7, e7, o7[2] ^ n7[4]), c3(i7, e7 + 4, o7[3] ^ n7[5]), c3(i7, e7 + 8, o7[0] ^ n7[6]), c3(i7, e7 + 12, o7[1] ^ n7[7]), e7 += 16, i7;
    }, decrypt: function(t9, s8) {
      i7 = t9, e7 = s8;
      const o7 = [h3(i7, e7) ^ n7[4], h3(i7, e7 + 4) ^ n7[5], h3(i7, e7 + 8) ^ n7[6], h3(i7, e7 + 12) ^ n7[7]];
      for (let t10 = 7; t10 >= 0; t10--) y7(t10, o7);
      c3(i7, e7, o7[2] ^ n7[0]), c3(i7, e7 + 4, o7[3] ^ n7[1]), c3(i7, e7 + 8, o7[0] ^ n7[2]), c3(i7, e7 + 12, o7[1] ^ n7[3]), e7 += 16;
    }, finalize: function() {
      return i7;
    } };
  })(), this.tf.open(Array.from(t7), 0), this.encrypt = function(t8) {
    return this.tf.encrypt(Array.from(t8), 0);
  };
}
function l3() {
}
function u4(t7) {
  this.bf = new l3(), this.bf.init(t7), this.encrypt = function(t8) {
    return this.bf.encryptBlock(t8);
  };
}
var o3, y4;
var init_legacy_ciphers_min = __esm({
  "node_modules/openpgp/dist/lightweight/legacy_ciphers.min.mjs"() {
    e3.keySize = e3.prototype.keySize = 24, e3.blockSize = e3.prototype.blockSize = 8, s3.blockSize = s3.prototype.blockSize = 8, s3.keySize = s3.prototype.keySize = 16;
    o3 = 4294967295;
    f3.keySize = f3.prototype.keySize = 32, f3.blockSize = f3.prototype.blockSize = 16, l3.prototype.BLOCKSIZE = 8, l3.prototype.SBOXES = [[3509652390, 2564797868, 805139163, 3491422135, 3101798381, 1780907670, 3128725573, 4046225305, 614570311, 3012652279, 134345442, 2240740374, 1667834072, 1901547113, 2757295779, 4103290238, 227898511, 1921955416, 1904987480, 2182433518, 2069144605, 3260701109, 2620446009, 720527379, 3318853667, 677414384, 3393288472, 3101374703, 2390351024, 1614419982, 1822297739, 2954791486, 3608508353, 3174124327, 2024746970, 1432378464, 3864339955, 2857741204, 1464375394, 1676153920, 1439316330, 715854006, 3033291828, 289532110, 2706671279, 2087905683, 3018724369, 1668267050, 732546397, 1947742710, 3462151702, 2609353502, 2950085171, 1814351708, 2050118529, 680887927, 999245976, 1800124847, 3300911131, 1713906067, 1641548236, 4213287313, 1216130144, 1575780402, 4018429277, 3917837745, 3693486850, 3949271944, 596196993, 3549867205, 258830323, 2213823033, 772490370, 2760122372, 1774776394, 2652871518, 566650946, 4142492826, 1728879713, 2882767088, 1783734482, 3629395816, 2517608232, 2874225571, 1861159788, 326777828, 3124490320, 2130389656, 2716951837, 967770486, 1724537150, 2185432712, 2364442137, 1164943284, 2105845187, 998989502, 3765401048, 2244026483, 1075463327, 1455516326, 1322494562, 910128902, 469688178, 1117454909, 936433444, 3490320968, 3675253459, 1240580251, 122909385, 2157517691, 634681816, 4142456567, 3825094682, 3061402683, 2540495037, 79693498, 3249098678, 1084186820, 1583128258, 426386531, 1761308591, 1047286709, 322548459, 995290223, 1845252383, 2603652396, 3431023940, 2942221577, 3202600964, 3727903485, 1712269319, 422464435, 3234572375, 1170764815, 3523960633, 3117677531, 1434042557, 442511882, 3600875718, 1076654713, 1738483198, 4213154764, 2393238008, 3677496056, 1014306527, 4251020053, 793779912, 2902807211, 842905082, 4246964064, 1395751752, 1040244610, 2656851899, 3396308128, 445077038, 3742853595, 3577915638, 679411651, 2892444358, 2354009459, 1767581616, 3150600392, 3791627101, 3102740896, 284835224, 4246832056, 1258075500, 768725851, 2589189241, 3069724005, 3532540348, 1274779536, 3789419226, 2764799539, 1660621633, 3471099624, 4011903706, 913787905, 3497959166, 737222580, 2514213453, 2928710040, 3937242737, 1804850592, 3499020752, 2949064160, 2386320175, 2390070455, 2415321851, 4061277028, 2290661394, 2416832540, 1336762016, 1754252060, 3520065937, 3014181293, 791618072, 3188594551, 3933548030, 2332172193, 3852520463, 3043980520, 413987798, 3465142937, 3030929376, 4245938359, 2093235073, 3534596313, 375366246, 2157278981, 2479649556, 555357303, 3870105701, 2008414854, 3344188149, 4221384143, 3956125452, 2067696032, 3594591187, 2921233993, 2428461, 544322398, 577241275, 1471733935, 610547355, 4027169054, 1432588573, 1507829418, 2025931657, 3646575487, 545086370, 48609733, 2200306550, 1653985193, 298326376, 1316178497, 3007786442, 2064951626, 458293330, 2589141269, 3591329599, 3164325604, 727753846, 2179363840, 146436021, 1461446943, 4069977195, 705550613, 3059967265, 3887724982, 4281599278, 3313849956, 1404054877, 2845806497, 146425753, 1854211946], [1266315497, 3048417604, 3681880366, 3289982499, 290971e4, 1235738493, 2632868024, 2414719590, 3970600049, 1771706367, 1449415276, 3266420449, 422970021, 1963543593, 2690192192, 3826793022, 1062508698, 1531092325, 1804592342, 2583117782, 2714934279, 4024971509, 1294809318, 4028980673, 1289560198, 2221992742, 1669523910, 35572830, 157838143, 1052438473, 1016535060, 1802137761, 1753167236, 1386275462, 3080475397, 2857371447, 1040679964, 2145300060, 2390574316, 1461121720, 2956646967, 4031777805, 4028374788, 33600511, 2920084762, 1018524850, 629373528, 3691585981, 3515945977, 2091462646, 2486323059, 586499841, 988145025, 935516892, 3367335476, 2599673255, 2839830854, 265290510, 3972581182, 2759138881, 3795373465, 1005194799, 847297441, 406762289, 1314163512, 1332590856, 1866599683, 4127851711, 750260880, 613907577, 1450815602, 3165620655, 3734664991, 3650291728, 3012275730, 3704569646, 1427272223, 778793252, 1343938022, 2676280711, 2052605720, 1946737175, 3164576444, 3914038668, 3967478842, 3682934266, 1661551462, 3294938066, 4011595847, 840292616, 3712170807, 616741398, 312560963, 711312465, 1351876610, 322626781, 1910503582, 271666773, 2175563734, 1594956187, 70604529, 3617834859, 1007753275, 1495573769, 4069517037, 2549218298, 2663038764, 504708206, 2263041392, 3941167025, 2249088522, 1514023603, 1998579484, 1312622330, 694541497, 2582060303, 2151582166, 1382467621, 776784248, 2618340202, 3323268794, 2497899128, 2784771155, 503983604, 4076293799, 907881277, 423175695, 432175456, 1378068232, 4145222326, 3954048622, 3938656102, 3820766613, 2793130115, 2977904593, 26017576, 3274890735, 3194772133, 1700274565, 1756076034, 4006520079, 3677328699, 720338349, 1533947780, 354530856, 688349552, 3973924725, 1637815568, 332179504, 3949051286, 53804574, 2852348879, 3044236432, 1282449977, 3583942155, 3416972820, 4006381244, 1617046695, 2628476075, 3002303598, 1686838959, 431878346, 2686675385, 1700445008, 1080580658, 1009431731, 832498133, 3223435511, 2605976345, 2271191193, 2516031870, 1648197032, 4164389018, 2548247927, 300782431, 375919233, 238389289, 3353747414, 2531188641, 2019080857, 1475708069, 455242339, 2609103871, 448939670, 3451063019, 1395535956, 2413381860, 1841049896, 1491858159, 885456874, 4264095073, 4001119347, 1565136089, 3898914787, 1108368660, 540939232, 1173283510, 2745871338, 3681308437, 4207628240, 3343053890, 4016749493, 1699691293, 1103962373, 3625875870, 2256883143, 3830138730, 1031889488, 3479347698, 1535977030, 4236805024, 3251091107, 2132092099, 1774941330, 1199868427, 1452454533, 157007616, 2904115357, 342012276, 595725824, 1480756522, 206960106, 497939518, 591360097, 863170706, 2375253569, 3596610801, 1814182875, 2094937945, 3421402208, 1082520231, 3463918190, 2785509508, 435703966, 3908032597, 1641649973, 2842273706, 3305899714, 1510255612, 2148256476, 2655287854, 3276092548, 4258621189, 236887753, 3681803219, 274041037, 1734335097, 3815195456, 3317970021, 1899903192, 1026095262, 4050517792, 356393447, 2410691914, 3873677099, 3682840055], [3913112168, 2491498743, 4132185628, 2489919796, 1091903735, 1979897079, 3170134830, 3567386728, 3557303409, 857797738, 1136121015, 1342202287, 507115054, 2535736646, 337727348, 3213592640, 1301675037, 2528481711, 1895095763, 1721773893, 3216771564, 62756741, 2142006736, 835421444, 2531993523, 1442658625, 3659876326, 2882144922, 676362277, 1392781812, 170690266, 3921047035, 1759253602, 3611846912, 1745797284, 664899054, 1329594018, 3901205900, 3045908486, 2062866102, 2865634940, 3543621612, 3464012697, 1080764994, 553557557, 3656615353, 3996768171, 991055499, 499776247, 1265440854, 648242737, 3940784050, 980351604, 3713745714, 1749149687, 3396870395, 4211799374, 3640570775, 1161844396, 3125318951, 1431517754, 545492359, 4268468663, 3499529547, 1437099964, 2702547544, 3433638243, 2581715763, 2787789398, 1060185593, 1593081372, 2418618748, 4260947970, 69676912, 2159744348, 86519011, 2512459080, 3838209314, 1220612927, 3339683548, 133810670, 1090789135, 1078426020, 1569222167, 845107691, 3583754449, 4072456591, 1091646820, 628848692, 1613405280, 3757631651, 526609435, 236106946, 48312990, 2942717905, 3402727701, 1797494240, 859738849, 992217954, 4005476642, 2243076622, 3870952857, 3732016268, 765654824, 3490871365, 2511836413, 1685915746, 3888969200, 1414112111, 2273134842, 3281911079, 4080962846, 172450625, 2569994100, 980381355, 4109958455, 2819808352, 2716589560, 2568741196, 3681446669, 3329971472, 1835478071, 660984891, 3704678404, 4045999559, 3422617507, 3040415634, 1762651403, 1719377915, 3470491036, 2693910283, 3642056355, 3138596744, 1364962596, 2073328063, 1983633131, 926494387, 3423689081, 2150032023, 4096667949, 1749200295, 3328846651, 309677260, 2016342300, 1779581495, 3079819751, 111262694, 1274766160, 443224088, 298511866, 1025883608, 3806446537, 1145181785, 168956806, 3641502830, 3584813610, 1689216846, 3666258015, 3200248200, 1692713982, 2646376535, 4042768518, 1618508792, 1610833997, 3523052358, 4130873264, 2001055236, 3610705100, 2202168115, 4028541809, 2961195399, 1006657119, 2006996926, 3186142756, 1430667929, 3210227297, 1314452623, 4074634658, 4101304120, 2273951170, 1399257539, 3367210612, 3027628629, 1190975929, 2062231137, 2333990788, 2221543033, 2438960610, 1181637006, 548689776, 2362791313, 3372408396, 3104550113, 3145860560, 296247880, 1970579870, 3078560182, 3769228297, 1714227617, 3291629107, 3898220290, 166772364, 1251581989, 493813264, 448347421, 195405023, 2709975567, 677966185, 3703036547, 1463355134, 2715995803, 1338867538, 1343315457, 2802222074, 2684532164, 233230375, 2599980071, 2000651841, 3277868038, 1638401717, 4028070440, 3237316320, 6314154, 819756386, 300326615, 590932579, 1405279636, 3267499572, 3150704214, 2428286686, 3959192993, 3461946742, 1862657033, 1266418056, 963775037, 2089974820, 2263052895, 1917689273, 448879540, 3550394620, 3981727096, 150775221, 3627908307, 1303187396, 508620638, 2975983352, 2726630617, 1817252668, 1876281319, 1457606340, 908771278, 3720792119, 3617206836, 2455994898, 1729034894, 1080033504], [976866871, 3556439503, 2881648439, 1522871579, 1555064734, 1336096578, 3548522304, 2579274686, 3574697629, 3205460757, 3593280638, 3338716283, 3079412587, 564236357, 2993598910, 1781952180, 1464380207, 3163844217, 3332601554, 1699332808, 1393555694, 1183702653, 3581086237, 1288719814, 691649499, 2847557200, 2895455976, 3193889540, 2717570544, 1781354906, 1676643554, 2592534050, 3230253752, 1126444790, 2770207658, 2633158820, 2210423226, 2615765581, 2414155088, 3127139286, 673620729, 2805611233, 1269405062, 4015350505, 3341807571, 4149409754, 1057255273, 2012875353, 2162469141, 2276492801, 2601117357, 993977747, 3918593370, 2654263191, 753973209, 36408145, 2530585658, 25011837, 3520020182, 2088578344, 530523599, 2918365339, 1524020338, 1518925132, 3760827505, 3759777254, 1202760957, 3985898139, 3906192525, 674977740, 4174734889, 2031300136, 2019492241, 3983892565, 4153806404, 3822280332, 352677332, 2297720250, 60907813, 90501309, 3286998549, 1016092578, 2535922412, 2839152426, 457141659, 509813237, 4120667899, 652014361, 1966332200, 2975202805, 55981186, 2327461051, 676427537, 3255491064, 2882294119, 3433927263, 1307055953, 942726286, 933058658, 2468411793, 3933900994, 4215176142, 1361170020, 2001714738, 2830558078, 3274259782, 1222529897, 1679025792, 2729314320, 3714953764, 1770335741, 151462246, 3013232138, 1682292957, 1483529935, 471910574, 1539241949, 458788160, 3436315007, 1807016891, 3718408830, 978976581, 1043663428, 3165965781, 1927990952, 4200891579, 2372276910, 3208408903, 3533431907, 1412390302, 2931980059, 4132332400, 1947078029, 3881505623, 4168226417, 2941484381, 1077988104, 1320477388, 886195818, 18198404, 3786409e3, 2509781533, 112762804, 3463356488, 1866414978, 891333506, 18488651, 661792760, 1628790961, 3885187036, 3141171499, 876946877, 2693282273, 1372485963, 791857591, 2686433993, 3759982718, 3167212022, 3472953795, 2716379847, 445679433, 3561995674, 3504004811, 3574258232, 54117162, 3331405415, 2381918588, 3769707343, 4154350007, 1140177722, 4074052095, 668550556, 3214352940, 367459370, 261225585, 2610173221, 4209349473, 3468074219, 3265815641, 314222801, 3066103646, 3808782860, 282218597, 3406013506, 3773591054, 379116347, 1285071038, 846784868, 2669647154, 3771962079, 3550491691, 2305946142, 453669953, 1268987020, 3317592352, 3279303384, 3744833421, 2610507566, 3859509063, 266596637, 3847019092, 517658769, 3462560207, 3443424879, 370717030, 4247526661, 2224018117, 4143653529, 4112773975, 2788324899, 2477274417, 1456262402, 2901442914, 1517677493, 1846949527, 2295493580, 3734397586, 2176403920, 1280348187, 1908823572, 3871786941, 846861322, 1172426758, 3287448474, 3383383037, 1655181056, 3139813346, 901632758, 1897031941, 2986607138, 3066810236, 3447102507, 1393639104, 373351379, 950779232, 625454576, 3124240540, 4148612726, 2007998917, 544563296, 2244738638, 2330496472, 2058025392, 1291430526, 424198748, 50039436, 29584100, 3605783033, 2429876329, 2791104160, 1057563949, 3255363231, 3075367218, 3463963227, 1469046755, 985887462]], l3.prototype.PARRAY = [608135816, 2242054355, 320440878, 57701188, 2752067618, 698298832, 137296536, 3964562569, 1160258022, 953160567, 3193202383, 887688300, 3232508343, 3380367581, 1065670069, 3041331479, 2450970073, 2306472731], l3.prototype.NN = 16, l3.prototype._clean = function(t7) {
      if (t7 < 0) {
        t7 = (2147483647 & t7) + 2147483648;
      }
      return t7;
    }, l3.prototype._F = function(t7) {
      let i7;
      const e7 = 255 & t7, n7 = 255 & (t7 >>>= 8), s7 = 255 & (t7 >>>= 8), o7 = 255 & (t7 >>>= 8);
      return i7 = this.sboxes[0][o7] + this.sboxes[1][s7], i7 ^= this.sboxes[2][n7], i7 += this.sboxes[3][e7], i7;
    }, l3.prototype._encryptBlock = function(t7) {
      let i7, e7 = t7[0], n7 = t7[1];
      for (i7 = 0; i7 < this.NN; ++i7) {
        e7 ^= this.parray[i7], n7 = this._F(e7) ^ n7;
        const t8 = e7;
        e7 = n7, n7 = t8;
      }
      e7 ^= this.parray[this.NN + 0], n7 ^= this.parray[this.NN + 1], t7[0] = this._clean(n7), t7[1] = this._clean(e7);
    }, l3.prototype.encryptBlock = function(t7) {
      let i7;
      const e7 = [0, 0], n7 = this.BLOCKSIZE / 2;
      for (i7 = 0; i7 < this.BLOCKSIZE / 2; ++i7) e7[0] = e7[0] << 8 | 255 & t7[i7 + 0], e7[1] = e7[1] << 8 | 255 & t7[i7 + n7];
      this._encryptBlock(e7);
      const s7 = [];
      for (i7 = 0; i7 < this.BLOCKSIZE / 2; ++i7) s7[i7 + 0] = e7[0] >>> 24 - 8 * i7 & 255, s7[i7 + n7] = e7[1] >>> 24 - 8 * i7 & 255;
      return s7;
    }, l3.prototype._decryptBlock = function(t7) {
      let i7, e7 = t7[0], n7 = t7[1];
      for (i7 = this.NN + 1; i7 > 1; --i7) {
        e7 ^= this.parray[i7], n7 = this._F(e7) ^ n7;
        const t8 = e7;
        e7 = n7, n7 = t8;
      }
      e7 ^= this.parray[1], n7 ^= this.parray[0], t7[0] = this._clean(n7), t7[1] = this._clean(e7);
    }, l3.prototype.init = function(t7) {
      let i7, e7 = 0;
      for (this.parray = [], i7 = 0; i7 < this.NN + 2; ++i7) {
        let n8 = 0;
        for (let i8 = 0; i8 < 4; ++i8) n8 = n8 << 8 | 255 & t7[e7], ++e7 >= t7.length && (e7 = 0);
        this.parray[i7] = this.PARRAY[i7] ^ n8;
      }
      for (this.sboxes = [], i7 = 0; i7 < 4; ++i7) for (this.sboxes[i7] = [], e7 = 0; e7 < 256; ++e7) this.sboxes[i7][e7] = this.SBOXES[i7][e7];
      const n7 = [0, 0];
      for (i7 = 0; i7 < this.NN + 2; i7 += 2) this._encryptBlock(n7), this.parray[i7 + 0] = n7[0], this.parray[i7 + 1] = n7[1];
      for (i7 = 0; i7 < 4; ++i7) for (e7 = 0; e7 < 256; e7 += 2) this._encryptBlock(n7), this.sboxes[i7][e7 + 0] = n7[0], this.sboxes[i7][e7 + 1] = n7[1];
    }, u4.keySize = u4.prototype.keySize = 16, u4.blockSize = u4.prototype.blockSize = 8;
    y4 = new Map(Object.entries({ tripledes: e3, cast5: s3, twofish: f3, blowfish: u4 }));
  }
});

// node_modules/openpgp/dist/lightweight/argon2id.min.mjs
var argon2id_min_exports = {};
__export(argon2id_min_exports, {
  default: () => R4
});
function I5(A7, I7, g6, B6) {
  A7[I7] += g6[B6], A7[I7 + 1] += g6[B6 + 1] + (A7[I7] < g6[B6]);
}
function g4(A7, I7) {
  A7[0] += I7, A7[1] += A7[0] < I7;
}
function B4(A7, g6, B6, C7, Q5, E7, t7, w7) {
  I5(A7, B6, A7, C7), I5(A7, B6, g6, t7);
  let i7 = A7[E7] ^ A7[B6], e7 = A7[E7 + 1] ^ A7[B6 + 1];
  A7[E7] = e7, A7[E7 + 1] = i7, I5(A7, Q5, A7, E7), i7 = A7[C7] ^ A7[Q5], e7 = A7[C7 + 1] ^ A7[Q5 + 1], A7[C7] = i7 >>> 24 ^ e7 << 8, A7[C7 + 1] = e7 >>> 24 ^ i7 << 8, I5(A7, B6, A7, C7), I5(A7, B6, g6, w7), i7 = A7[E7] ^ A7[B6], e7 = A7[E7 + 1] ^ A7[B6 + 1], A7[E7] = i7 >>> 16 ^ e7 << 16, A7[E7 + 1] = e7 >>> 16 ^ i7 << 16, I5(A7, Q5, A7, E7), i7 = A7[C7] ^ A7[Q5], e7 = A7[C7 + 1] ^ A7[Q5 + 1], A7[C7] = e7 >>> 31 ^ i7 << 1, A7[C7 + 1] = i7 >>> 31 ^ e7 << 1;
}
function E5(A7, I7) {
  const g6 = new Uint32Array(32), E7 = new Uint32Array(A7.b.buffer, A7.b.byteOffset, 32);
  for (let I8 = 0; I8 < 16; I8++) g6[I8] = A7.h[I8], g6[I8 + 16] = C5[I8];
  g6[24] ^= A7.t0[0], g6[25] ^= A7.t0[1];
  const t7 = I7 ? 4294967295 : 0;
  g6[28] ^= t7, g6[29] ^= t7;
  for (let A8 = 0; A8 < 12; A8++) {
    const I8 = A8 << 4;
    B4(g6, E7, 0, 8, 16, 24, Q3[I8 + 0], Q3[I8 + 1]), B4(g6, E7, 2, 10, 18, 26, Q3[I8 + 2], Q3[I8 + 3]), B4(g6, E7, 4, 12, 20, 28, Q3[I8 + 4], Q3[I8 + 5]), B4(g6, E7, 6, 14, 22, 30, Q3[I8 + 6], Q3[I8 + 7]), B4(g6, E7, 0, 10, 20, 30, Q3[I8 + 8], Q3[I8 + 9]), B4(g6, E7, 2, 12, 22, 24, Q3[I8 + 10], Q3[I8 + 11]), B4(g6, E7, 4, 14, 16, 26, Q3[I8 + 12], Q3[I8 + 13]), B4(g6, E7, 6, 8, 18, 28, Q3[I8 + 14], Q3[I8 + 15]);
  }
  for (let I8 = 0; I8 < 16; I8++) A7.h[I8] ^= g6[I8] ^ g6[I8 + 16];
}
function w5(A7, I7, g6, B6) {
  if (A7 > i4) throw Error(`outlen must be at most ${i4} (given: ${A7})`);
  return new t4(A7, I7, g6, B6);
}
function s4(A7, I7, g6) {
  return A7[g6 + 0] = I7, A7[g6 + 1] = I7 >> 8, A7[g6 + 2] = I7 >> 16, A7[g6 + 3] = I7 >> 24, A7;
}
function f4(A7, I7, g6) {
  if (I7 > Number.MAX_SAFE_INTEGER) throw Error("LE64: large numbers unsupported");
  let B6 = I7;
  for (let I8 = g6; I8 < g6 + 7; I8++) A7[I8] = B6, B6 = (B6 - A7[I8]) / 256;
  return A7;
}
function r4(A7, I7, g6) {
  const B6 = new Uint8Array(64), C7 = new Uint8Array(4 + I7.length);
  if (s4(C7, A7, 0), C7.set(I7, 4), A7 <= 64) return w5(A7).update(C7).digest(g6), g6;
  const Q5 = Math.ceil(A7 / 32) - 2;
  for (let A8 = 0; A8 < Q5; A8++) w5(64).update(0 === A8 ? C7 : B6).digest(B6), g6.set(B6.subarray(0, 32), 32 * A8);
  const E7 = new Uint8Array(w5(A7 - 32 * Q5).update(B6).digest());
  return g6.set(E7, 32 * Q5), g6;
}
function o4(A7, I7, g6, B6) {
  return A7.fn.XOR(I7.byteOffset, g6.byteOffset, B6.byteOffset), I7;
}
function c4(A7, I7, g6, B6) {
  return A7.fn.G(I7.byteOffset, g6.byteOffset, B6.byteOffset, A7.refs.gZ.byteOffset), B6;
}
function a4(A7, I7, g6, B6) {
  return A7.fn.G2(I7.byteOffset, g6.byteOffset, B6.byteOffset, A7.refs.gZ.byteOffset), B6;
}
function* S4(A7, I7, g6, B6, C7, Q5, E7, t7) {
  A7.refs.prngTmp.fill(0);
  const w7 = A7.refs.prngTmp.subarray(0, 48);
  f4(w7, I7, 0), f4(w7, g6, 8), f4(w7, B6, 16), f4(w7, C7, 24), f4(w7, Q5, 32), f4(w7, 2, 40);
  for (let I8 = 1; I8 <= E7; I8++) {
    f4(A7.refs.prngTmp, I8, w7.length);
    const g7 = a4(A7, A7.refs.ZERO1024, A7.refs.prngTmp, A7.refs.prngR);
    for (let A8 = 1 === I8 ? 8 * t7 : 0; A8 < g7.length; A8 += 8) yield g7.subarray(A8, A8 + 8);
  }
  return [];
}
function y5(A7, { memory: I7, instance: g6 }) {
  if (!D5) throw Error("BigEndian system not supported");
  const B6 = (function({ type: A8, version: I8, tagLength: g7, password: B7, salt: C8, ad: Q6, secret: E8, parallelism: t8, memorySize: w7, passes: i8 }) {
    const e8 = (A9, I9, g8, B8) => {
      if (I9 < g8 || I9 > B8) throw Error(`${A9} size should be between ${g8} and ${B8} bytes`);
    };
    if (2 !== A8 || 19 !== I8) throw Error("Unsupported type or version");
    return e8("password", B7, 8, 4294967295), e8("salt", C8, 8, 4294967295), e8("tag", g7, 4, 4294967295), e8("memory", w7, 8 * t8, 4294967295), Q6 && e8("associated data", Q6, 0, 4294967295), E8 && e8("secret", E8, 0, 32), { type: A8, version: I8, tagLength: g7, password: B7, salt: C8, ad: Q6, secret: E8, lanes: t8, memorySize: w7, passes: i8 };
  })({ type: 2, version: 19, ...A7 }), { G: C7, G2: Q5, xor: E7, getLZ: t7 } = g6.exports, i7 = {}, e7 = {};
  e7.G = C7, e7.G2 = Q5, e7.XOR = E7;
  const f7 = 4 * B6.lanes * Math.floor(B6.memorySize / (4 * B6.lanes)), a7 = f7 * n4 + 10240;
  if (I7.buffer.byteLength < a7) {
    const A8 = Math.ceil((a7 - I7.buffer.byteLength) / 65536);
    I7.grow(A8);
  }
  let y7 = 0;
  i7.gZ = new Uint8Array(I7.buffer, y7, n4), y7 += i7.gZ.length, i7.prngR = new Uint8Array(I7.buffer, y7, n4), y7 += i7.prngR.length, i7.prngTmp = new Uint8Array(I7.buffer, y7, n4), y7 += i7.prngTmp.length, i7.ZERO1024 = new Uint8Array(I7.buffer, y7, 1024), y7 += i7.ZERO1024.length;
  const h6 = new Uint32Array(I7.buffer, y7, 2);
  y7 += h6.length * Uint32Array.BYTES_PER_ELEMENT;
  const M7 = { fn: e7, refs: i7 }, U7 = new Uint8Array(I7.buffer, y7, n4);
  y7 += U7.length;
  const R6 = new Uint8Array(I7.buffer, y7, B6.memorySize * n4), N5 = new Uint8Array(I7.buffer, 0, y7), k6 = (function(A8) {
    const I8 = w5(64), g7 = new Uint8Array(4), B7 = new Uint8Array(24);
    s4(B7, A8.lanes, 0), s4(B7, A8.tagLength, 4), s4(B7, A8.memorySize, 8), s4(B7, A8.passes, 12), s4(B7, A8.version, 16), s4(B7, A8.type, 20);
    const C8 = [B7];
    A8.password ? (C8.push(s4(new Uint8Array(4), A8.password.length, 0)), C8.push(A8.password)) : C8.push(g7);
    A8.salt ? (C8.push(s4(new Uint8Array(4), A8.salt.length, 0)), C8.push(A8.salt)) : C8.push(g7);
    A8.secret ? (C8.push(s4(new Uint8Array(4), A8.secret.length, 0)), C8.push(A8.secret)) : C8.push(g7);
    A8.ad ? (C8.push(s4(new Uint8Array(4), A8.ad.length, 0)), C8.push(A8.ad)) : C8.push(g7);
    I8.update((function(A9) {
      if (1 === A9.length) return A9[0];
      let I9 = 0;
      for (let g9 = 0; g9 < A9.length; g9++) {
        if (!(A9[g9] instanceof Uint8Array)) throw Error("concatArrays: Data must be in the form of a Uint8Array");
        I9 += A9[g9].length;
      }
      const g8 = new Uint8Array(I9);
      let B8 = 0;
      return A9.forEach(((A10) => {
        g8.set(A10, B8), B8 += A10.length;
      })), g8;
    })(C8));
    const Q6 = I8.digest();
    return new Uint8Array(Q6);
  })(B6), H6 = f7 / B6.lanes, l5 = Array(B6.lanes).fill(null).map((() => Array(H6))), G6 = (A8, I8) => (l5[A8][I8] = R6.subarray(A8 * H6 * 1024 + 1024 * I8, A8 * H6 * 1024 + 1024 * I8 + n4), l5[A8][I8]);
  for (let A8 = 0; A8 < B6.lanes; A8++) {
    const I8 = new Uint8Array(k6.length + 8);
    I8.set(k6), s4(I8, 0, k6.length), s4(I8, A8, k6.length + 4), r4(n4, I8, G6(A8, 0)), s4(I8, 1, k6.length), r4(n4, I8, G6(A8, 1));
  }
  const F6 = H6 / 4;
  for (let A8 = 0; A8 < B6.passes; A8++) for (let I8 = 0; I8 < 4; I8++) {
    const g7 = 0 === A8 && I8 <= 1;
    for (let C8 = 0; C8 < B6.lanes; C8++) {
      let Q6 = 0 === I8 && 0 === A8 ? 2 : 0;
      const E8 = g7 ? S4(M7, A8, C8, I8, f7, B6.passes, F6, Q6) : null;
      for (; Q6 < F6; Q6++) {
        const w7 = I8 * F6 + Q6, i8 = w7 > 0 ? l5[C8][w7 - 1] : l5[C8][H6 - 1], e8 = g7 ? E8.next().value : i8;
        t7(h6.byteOffset, e8.byteOffset, C8, B6.lanes, A8, I8, Q6, 4, F6);
        const n7 = h6[0], D7 = h6[1];
        0 === A8 && G6(C8, w7), c4(M7, i8, l5[n7][D7], A8 > 0 ? U7 : l5[C8][w7]), A8 > 0 && o4(M7, l5[C8][w7], U7, l5[C8][w7]);
      }
    }
  }
  const L4 = l5[0][H6 - 1];
  for (let A8 = 1; A8 < B6.lanes; A8++) o4(M7, L4, L4, l5[A8][H6 - 1]);
  const J5 = r4(B6.tagLength, L4, new Uint8Array(B6.tagLength));
  return N5.fill(0), I7.grow(0), J5;
}
async function M5(A7, I7) {
  const g6 = new WebAssembly.Memory({ initial: 1040, maximum: 65536 }), B6 = await (async function(A8, I8, g7) {
    const B7 = { env: { memory: A8 } };
    if (void 0 === h4) try {
      const A9 = await I8(B7);
      return h4 = true, A9;
    } catch (A9) {
      h4 = false;
    }
    return (h4 ? I8 : g7)(B7);
  })(g6, A7, I7);
  return (A8) => y5(A8, { instance: B6.instance, memory: g6 });
}
function U5(I7, g6, B6, C7) {
  var Q5 = null, E7 = A5.atob(B6), t7 = E7.length;
  Q5 = new Uint8Array(new ArrayBuffer(t7));
  for (var w7 = 0; w7 < t7; w7++) Q5[w7] = E7.charCodeAt(w7);
  return (function(A7, I8, g7) {
    var B7 = g7 ? WebAssembly.instantiateStreaming : WebAssembly.instantiate, C8 = g7 ? WebAssembly.compileStreaming : WebAssembly.compile;
    return I8 ? B7(A7, I8) : C8(A7);
  })(Q5, C7, false);
}
var A5, C5, Q3, t4, i4, e4, n4, D5, h4, R4;
var init_argon2id_min = __esm({
  "node_modules/openpgp/dist/lightweight/argon2id.min.mjs"() {
    A5 = "undefined" != typeof window ? window : "undefined" != typeof global ? global : "undefined" != typeof self ? self : {};
    C5 = new Uint32Array([4089235720, 1779033703, 2227873595, 3144134277, 4271175723, 1013904242, 1595750129, 2773480762, 2917565137, 1359893119, 725511199, 2600822924, 4215389547, 528734635, 327033209, 1541459225]);
    Q3 = new Uint8Array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3, 11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4, 7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8, 9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13, 2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9, 12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11, 13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10, 6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5, 10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3].map(((A7) => 2 * A7)));
    t4 = class {
      constructor(A7, I7, g6, B6) {
        const Q5 = new Uint8Array(64);
        this.S = { b: new Uint8Array(e4), h: new Uint32Array(i4 / 4), t0: new Uint32Array(2), c: 0, outlen: A7 }, Q5[0] = A7, I7 && (Q5[1] = I7.length), Q5[2] = 1, Q5[3] = 1, g6 && Q5.set(g6, 32), B6 && Q5.set(B6, 48);
        const E7 = new Uint32Array(Q5.buffer, Q5.byteOffset, Q5.length / Uint32Array.BYTES_PER_ELEMENT);
        for (let A8 = 0; A8 < 16; A8++) this.S.h[A8] = C5[A8] ^ E7[A8];
        if (I7) {
          const A8 = new Uint8Array(e4);
          A8.set(I7), this.update(A8);
        }
      }
      update(A7) {
        if (!(A7 instanceof Uint8Array)) throw Error("Input must be Uint8Array or Buffer");
        let I7 = 0;
        for (; I7 < A7.length; ) {
          this.S.c === e4 && (g4(this.S.t0, this.S.c), E5(this.S, false), this.S.c = 0);
          let B6 = e4 - this.S.c;
          this.S.b.set(A7.subarray(I7, I7 + B6), this.S.c);
          const C7 = Math.min(B6, A7.length - I7);
          this.S.c += C7, I7 += C7;
        }
        return this;
      }
      digest(A7) {
        g4(this.S.t0, this.S.c), this.S.b.fill(0, this.S.c), this.S.c = e4, E5(this.S, true);
        const I7 = A7 || new Uint8Array(this.S.outlen);
        for (let A8 = 0; A8 < this.S.outlen; A8++) I7[A8] = this.S.h[A8 >> 2] >> 8 * (3 & A8);
        return this.S.h = null, I7.buffer;
      }
    };
    i4 = 64;
    e4 = 128;
    n4 = 1024;
    D5 = 205 === new Uint8Array(new Uint16Array([43981]).buffer)[0];
    R4 = async () => M5(((A7) => U5(0, 0, "AGFzbQEAAAABKwdgBH9/f38AYAABf2AAAGADf39/AGAJf39/f39/f39/AX9gAX8AYAF/AX8CEwEDZW52Bm1lbW9yeQIBkAiAgAQDCgkCAwAABAEFBgEEBQFwAQICBgkBfwFBkIjAAgsHfQoDeG9yAAEBRwACAkcyAAMFZ2V0TFoABBlfX2luZGlyZWN0X2Z1bmN0aW9uX3RhYmxlAQALX2luaXRpYWxpemUAABBfX2Vycm5vX2xvY2F0aW9uAAgJc3RhY2tTYXZlAAUMc3RhY2tSZXN0b3JlAAYKc3RhY2tBbGxvYwAHCQcBAEEBCwEACs0gCQMAAQtYAQJ/A0AgACAEQQR0IgNqIAIgA2r9AAQAIAEgA2r9AAQA/VH9CwQAIAAgA0EQciIDaiACIANq/QAEACABIANq/QAEAP1R/QsEACAEQQJqIgRBwABHDQALC7ceAgt7A38DQCADIBFBBHQiD2ogASAPav0ABAAgACAPav0ABAD9USIF/QsEACACIA9qIAX9CwQAIAMgD0EQciIPaiABIA9q/QAEACAAIA9q/QAEAP1RIgX9CwQAIAIgD2ogBf0LBAAgEUECaiIRQcAARw0ACwNAIAMgEEEHdGoiAEEQaiAA/QAEcCAA/QAEMCIFIAD9AAQQIgT9zgEgBSAF/Q0AAQIDCAkKCwABAgMICQoLIAQgBP0NAAECAwgJCgsAAQIDCAkKC/3eAUEB/csB/c4BIgT9USIJQSD9ywEgCUEg/c0B/VAiCSAA/QAEUCIG/c4BIAkgCf0NAAECAwgJCgsAAQIDCAkKCyAGIAb9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIGIAX9USIFQSj9ywEgBUEY/c0B/VAiCCAE/c4BIAggCP0NAAECAwgJCgsAAQIDCAkKCyAEIAT9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIKIAogCf1RIgVBMP3LASAFQRD9zQH9UCIFIAb9zgEgBSAF/Q0AAQIDCAkKCwABAgMICQoLIAYgBv0NAAECAwgJCgsAAQIDCAkKC/3eAUEB/csB/c4BIgkgCP1RIgRBAf3LASAEQT/9zQH9UCIMIAD9AARgIAD9AAQgIgQgAP0ABAAiBv3OASAEIAT9DQABAgMICQoLAAECAwgJCgsgBiAG/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiBv1RIghBIP3LASAIQSD9zQH9UCIIIABBQGsiAf0ABAAiB/3OASAIIAj9DQABAgMICQoLAAECAwgJCgsgByAH/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiByAE/VEiBEEo/csBIARBGP3NAf1QIgsgBv3OASALIAv9DQABAgMICQoLAAECAwgJCgsgBiAG/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiBiAI/VEiBEEw/csBIARBEP3NAf1QIgQgB/3OASAEIAT9DQABAgMICQoLAAECAwgJCgsgByAH/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiCCAL/VEiB0EB/csBIAdBP/3NAf1QIg0gDf0NAAECAwQFBgcQERITFBUWF/0NCAkKCwwNDg8YGRobHB0eHyIH/c4BIAcgB/0NAAECAwgJCgsAAQIDCAkKCyAKIAr9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIKIAQgBSAF/Q0AAQIDBAUGBxAREhMUFRYX/Q0ICQoLDA0ODxgZGhscHR4f/VEiC0Eg/csBIAtBIP3NAf1QIgsgCP3OASALIAv9DQABAgMICQoLAAECAwgJCgsgCCAI/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiCCAH/VEiB0Eo/csBIAdBGP3NAf1QIgcgCv3OASAHIAf9DQABAgMICQoLAAECAwgJCgsgCiAK/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiDv0LBAAgACAGIA0gDCAM/Q0AAQIDBAUGBxAREhMUFRYX/Q0ICQoLDA0ODxgZGhscHR4fIgr9zgEgCiAK/Q0AAQIDCAkKCwABAgMICQoLIAYgBv0NAAECAwgJCgsAAQIDCAkKC/3eAUEB/csB/c4BIgYgBSAEIAT9DQABAgMEBQYHEBESExQVFhf9DQgJCgsMDQ4PGBkaGxwdHh/9USIFQSD9ywEgBUEg/c0B/VAiBSAJ/c4BIAUgBf0NAAECAwgJCgsAAQIDCAkKCyAJIAn9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIJIAr9USIEQSj9ywEgBEEY/c0B/VAiCiAG/c4BIAogCv0NAAECAwgJCgsAAQIDCAkKCyAGIAb9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIE/QsEACAAIAQgBf1RIgVBMP3LASAFQRD9zQH9UCIFIA4gC/1RIgRBMP3LASAEQRD9zQH9UCIEIAT9DQABAgMEBQYHEBESExQVFhf9DQgJCgsMDQ4PGBkaGxwdHh/9CwRgIAAgBCAFIAX9DQABAgMEBQYHEBESExQVFhf9DQgJCgsMDQ4PGBkaGxwdHh/9CwRwIAEgBCAI/c4BIAQgBP0NAAECAwgJCgsAAQIDCAkKCyAIIAj9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIE/QsEACAAIAUgCf3OASAFIAX9DQABAgMICQoLAAECAwgJCgsgCSAJ/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiCf0LBFAgACAEIAf9USIFQQH9ywEgBUE//c0B/VAiBSAJIAr9USIEQQH9ywEgBEE//c0B/VAiBCAE/Q0AAQIDBAUGBxAREhMUFRYX/Q0ICQoLDA0ODxgZGhscHR4f/QsEICAAIAQgBSAF/Q0AAQIDBAUGBxAREhMUFRYX/Q0ICQoLDA0ODxgZGhscHR4f/QsEMCAQQQFqIhBBCEcNAAtBACEQA0AgAyAQQQR0aiIAQYABaiAA/QAEgAcgAP0ABIADIgUgAP0ABIABIgT9zgEgBSAF/Q0AAQIDCAkKCwABAgMICQoLIAQgBP0NAAECAwgJCgsAAQIDCAkKC/3eAUEB/csB/c4BIgT9USIJQSD9ywEgCUEg/c0B/VAiCSAA/QAEgAUiBv3OASAJIAn9DQABAgMICQoLAAECAwgJCgsgBiAG/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiBiAF/VEiBUEo/csBIAVBGP3NAf1QIgggBP3OASAIIAj9DQABAgMICQoLAAECAwgJCgsgBCAE/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiCiAKIAn9USIFQTD9ywEgBUEQ/c0B/VAiBSAG/c4BIAUgBf0NAAECAwgJCgsAAQIDCAkKCyAGIAb9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIJIAj9USIEQQH9ywEgBEE//c0B/VAiDCAA/QAEgAYgAP0ABIACIgQgAP0ABAAiBv3OASAEIAT9DQABAgMICQoLAAECAwgJCgsgBiAG/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiBv1RIghBIP3LASAIQSD9zQH9UCIIIAD9AASABCIH/c4BIAggCP0NAAECAwgJCgsAAQIDCAkKCyAHIAf9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIHIAT9USIEQSj9ywEgBEEY/c0B/VAiCyAG/c4BIAsgC/0NAAECAwgJCgsAAQIDCAkKCyAGIAb9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIGIAj9USIEQTD9ywEgBEEQ/c0B/VAiBCAH/c4BIAQgBP0NAAECAwgJCgsAAQIDCAkKCyAHIAf9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIIIAv9USIHQQH9ywEgB0E//c0B/VAiDSAN/Q0AAQIDBAUGBxAREhMUFRYX/Q0ICQoLDA0ODxgZGhscHR4fIgf9zgEgByAH/Q0AAQIDCAkKCwABAgMICQoLIAogCv0NAAECAwgJCgsAAQIDCAkKC/3eAUEB/csB/c4BIgogBCAFIAX9DQABAgMEBQYHEBESExQVFhf9DQgJCgsMDQ4PGBkaGxwdHh/9USILQSD9ywEgC0Eg/c0B/VAiCyAI/c4BIAsgC/0NAAECAwgJCgsAAQIDCAkKCyAIIAj9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIIIAf9USIHQSj9ywEgB0EY/c0B/VAiByAK/c4BIAcgB/0NAAECAwgJCgsAAQIDCAkKCyAKIAr9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIO/QsEACAAIAYgDSAMIAz9DQABAgMEBQYHEBESExQVFhf9DQgJCgsMDQ4PGBkaGxwdHh8iCv3OASAKIAr9DQABAgMICQoLAAECAwgJCgsgBiAG/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiBiAFIAQgBP0NAAECAwQFBgcQERITFBUWF/0NCAkKCwwNDg8YGRobHB0eH/1RIgVBIP3LASAFQSD9zQH9UCIFIAn9zgEgBSAF/Q0AAQIDCAkKCwABAgMICQoLIAkgCf0NAAECAwgJCgsAAQIDCAkKC/3eAUEB/csB/c4BIgkgCv1RIgRBKP3LASAEQRj9zQH9UCIKIAb9zgEgCiAK/Q0AAQIDCAkKCwABAgMICQoLIAYgBv0NAAECAwgJCgsAAQIDCAkKC/3eAUEB/csB/c4BIgT9CwQAIAAgBCAF/VEiBUEw/csBIAVBEP3NAf1QIgUgDiAL/VEiBEEw/csBIARBEP3NAf1QIgQgBP0NAAECAwQFBgcQERITFBUWF/0NCAkKCwwNDg8YGRobHB0eH/0LBIAGIAAgBCAFIAX9DQABAgMEBQYHEBESExQVFhf9DQgJCgsMDQ4PGBkaGxwdHh/9CwSAByAAIAQgCP3OASAEIAT9DQABAgMICQoLAAECAwgJCgsgCCAI/Q0AAQIDCAkKCwABAgMICQoL/d4BQQH9ywH9zgEiBP0LBIAEIAAgBSAJ/c4BIAUgBf0NAAECAwgJCgsAAQIDCAkKCyAJIAn9DQABAgMICQoLAAECAwgJCgv93gFBAf3LAf3OASIJ/QsEgAUgACAEIAf9USIFQQH9ywEgBUE//c0B/VAiBSAJIAr9USIEQQH9ywEgBEE//c0B/VAiBCAE/Q0AAQIDBAUGBxAREhMUFRYX/Q0ICQoLDA0ODxgZGhscHR4f/QsEgAIgACAEIAUgBf0NAAECAwQFBgcQERITFBUWF/0NCAkKCwwNDg8YGRobHB0eH/0LBIADIBBBAWoiEEEIRw0AC0EAIRADQCACIBBBBHQiAGoiASAAIANq/QAEACAB/QAEAP1R/QsEACACIABBEHIiAWoiDyABIANq/QAEACAP/QAEAP1R/QsEACACIABBIHIiAWoiDyABIANq/QAEACAP/QAEAP1R/QsEACACIABBMHIiAGoiASAAIANq/QAEACAB/QAEAP1R/QsEACAQQQRqIhBBwABHDQALCxYAIAAgASACIAMQAiAAIAIgAiADEAILewIBfwF+IAIhCSABNQIAIQogBCAFcgRAIAEoAgQgA3AhCQsgACAJNgIAIAAgB0EBayAFIAQbIAhsIAZBAWtBAEF/IAYbIAIgCUYbaiIBIAVBAWogCGxBACAEG2ogAa0gCiAKfkIgiH5CIIinQX9zaiAHIAhscDYCBCAACwQAIwALBgAgACQACxAAIwAgAGtBcHEiACQAIAALBQBBgAgL", A7)), ((A7) => U5(0, 0, "AGFzbQEAAAABPwhgBH9/f38AYAABf2AAAGADf39/AGARf39/f39/f39/f39/f39/f38AYAl/f39/f39/f38Bf2ABfwBgAX8BfwITAQNlbnYGbWVtb3J5AgGQCICABAMLCgIDBAAABQEGBwEEBQFwAQICBgkBfwFBkIjAAgsHfQoDeG9yAAEBRwADAkcyAAQFZ2V0TFoABRlfX2luZGlyZWN0X2Z1bmN0aW9uX3RhYmxlAQALX2luaXRpYWxpemUAABBfX2Vycm5vX2xvY2F0aW9uAAkJc3RhY2tTYXZlAAYMc3RhY2tSZXN0b3JlAAcKc3RhY2tBbGxvYwAICQcBAEEBCwEACssaCgMAAQtQAQJ/A0AgACAEQQN0IgNqIAIgA2opAwAgASADaikDAIU3AwAgACADQQhyIgNqIAIgA2opAwAgASADaikDAIU3AwAgBEECaiIEQYABRw0ACwveDwICfgF/IAAgAUEDdGoiEyATKQMAIhEgACAFQQN0aiIBKQMAIhJ8IBFCAYZC/v///x+DIBJC/////w+DfnwiETcDACAAIA1BA3RqIgUgESAFKQMAhUIgiSIRNwMAIAAgCUEDdGoiCSARIAkpAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAEgESABKQMAhUIoiSIRNwMAIBMgESATKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACAFIBEgBSkDAIVCMIkiETcDACAJIBEgCSkDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgASARIAEpAwCFQgGJNwMAIAAgAkEDdGoiDSANKQMAIhEgACAGQQN0aiICKQMAIhJ8IBFCAYZC/v///x+DIBJC/////w+DfnwiETcDACAAIA5BA3RqIgYgESAGKQMAhUIgiSIRNwMAIAAgCkEDdGoiCiARIAopAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAIgESACKQMAhUIoiSIRNwMAIA0gESANKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACAGIBEgBikDAIVCMIkiETcDACAKIBEgCikDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgAiARIAIpAwCFQgGJNwMAIAAgA0EDdGoiDiAOKQMAIhEgACAHQQN0aiIDKQMAIhJ8IBFCAYZC/v///x+DIBJC/////w+DfnwiETcDACAAIA9BA3RqIgcgESAHKQMAhUIgiSIRNwMAIAAgC0EDdGoiCyARIAspAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAMgESADKQMAhUIoiSIRNwMAIA4gESAOKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACAHIBEgBykDAIVCMIkiETcDACALIBEgCykDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgAyARIAMpAwCFQgGJNwMAIAAgBEEDdGoiDyAPKQMAIhEgACAIQQN0aiIEKQMAIhJ8IBFCAYZC/v///x+DIBJC/////w+DfnwiETcDACAAIBBBA3RqIgggESAIKQMAhUIgiSIRNwMAIAAgDEEDdGoiACARIAApAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAQgESAEKQMAhUIoiSIRNwMAIA8gESAPKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACAIIBEgCCkDAIVCMIkiETcDACAAIBEgACkDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgBCARIAQpAwCFQgGJNwMAIBMgEykDACIRIAIpAwAiEnwgEUIBhkL+////H4MgEkL/////D4N+fCIRNwMAIAggESAIKQMAhUIgiSIRNwMAIAsgESALKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACACIBEgAikDAIVCKIkiETcDACATIBEgEykDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgCCARIAgpAwCFQjCJIhE3AwAgCyARIAspAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAIgESACKQMAhUIBiTcDACANIA0pAwAiESADKQMAIhJ8IBFCAYZC/v///x+DIBJC/////w+DfnwiETcDACAFIBEgBSkDAIVCIIkiETcDACAAIBEgACkDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgAyARIAMpAwCFQiiJIhE3AwAgDSARIA0pAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAUgESAFKQMAhUIwiSIRNwMAIAAgESAAKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACADIBEgAykDAIVCAYk3AwAgDiAOKQMAIhEgBCkDACISfCARQgGGQv7///8fgyASQv////8Pg358IhE3AwAgBiARIAYpAwCFQiCJIhE3AwAgCSARIAkpAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAQgESAEKQMAhUIoiSIRNwMAIA4gESAOKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACAGIBEgBikDAIVCMIkiETcDACAJIBEgCSkDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgBCARIAQpAwCFQgGJNwMAIA8gDykDACIRIAEpAwAiEnwgEUIBhkL+////H4MgEkL/////D4N+fCIRNwMAIAcgESAHKQMAhUIgiSIRNwMAIAogESAKKQMAIhJ8IBFC/////w+DIBJCAYZC/v///x+DfnwiETcDACABIBEgASkDAIVCKIkiETcDACAPIBEgDykDACISfCARQv////8PgyASQgGGQv7///8fg358IhE3AwAgByARIAcpAwCFQjCJIhE3AwAgCiARIAopAwAiEnwgEUL/////D4MgEkIBhkL+////H4N+fCIRNwMAIAEgESABKQMAhUIBiTcDAAvdCAEPfwNAIAIgBUEDdCIGaiABIAZqKQMAIAAgBmopAwCFNwMAIAIgBkEIciIGaiABIAZqKQMAIAAgBmopAwCFNwMAIAVBAmoiBUGAAUcNAAsDQCADIARBA3QiAGogACACaikDADcDACADIARBAXIiAEEDdCIBaiABIAJqKQMANwMAIAMgBEECciIBQQN0IgVqIAIgBWopAwA3AwAgAyAEQQNyIgVBA3QiBmogAiAGaikDADcDACADIARBBHIiBkEDdCIHaiACIAdqKQMANwMAIAMgBEEFciIHQQN0IghqIAIgCGopAwA3AwAgAyAEQQZyIghBA3QiCWogAiAJaikDADcDACADIARBB3IiCUEDdCIKaiACIApqKQMANwMAIAMgBEEIciIKQQN0IgtqIAIgC2opAwA3AwAgAyAEQQlyIgtBA3QiDGogAiAMaikDADcDACADIARBCnIiDEEDdCINaiACIA1qKQMANwMAIAMgBEELciINQQN0Ig5qIAIgDmopAwA3AwAgAyAEQQxyIg5BA3QiD2ogAiAPaikDADcDACADIARBDXIiD0EDdCIQaiACIBBqKQMANwMAIAMgBEEOciIQQQN0IhFqIAIgEWopAwA3AwAgAyAEQQ9yIhFBA3QiEmogAiASaikDADcDACADIARB//8DcSAAQf//A3EgAUH//wNxIAVB//8DcSAGQf//A3EgB0H//wNxIAhB//8DcSAJQf//A3EgCkH//wNxIAtB//8DcSAMQf//A3EgDUH//wNxIA5B//8DcSAPQf//A3EgEEH//wNxIBFB//8DcRACIARB8ABJIQAgBEEQaiEEIAANAAtBACEBIANBAEEBQRBBEUEgQSFBMEExQcAAQcEAQdAAQdEAQeAAQeEAQfAAQfEAEAIgA0ECQQNBEkETQSJBI0EyQTNBwgBBwwBB0gBB0wBB4gBB4wBB8gBB8wAQAiADQQRBBUEUQRVBJEElQTRBNUHEAEHFAEHUAEHVAEHkAEHlAEH0AEH1ABACIANBBkEHQRZBF0EmQSdBNkE3QcYAQccAQdYAQdcAQeYAQecAQfYAQfcAEAIgA0EIQQlBGEEZQShBKUE4QTlByABByQBB2ABB2QBB6ABB6QBB+ABB+QAQAiADQQpBC0EaQRtBKkErQTpBO0HKAEHLAEHaAEHbAEHqAEHrAEH6AEH7ABACIANBDEENQRxBHUEsQS1BPEE9QcwAQc0AQdwAQd0AQewAQe0AQfwAQf0AEAIgA0EOQQ9BHkEfQS5BL0E+QT9BzgBBzwBB3gBB3wBB7gBB7wBB/gBB/wAQAgNAIAIgAUEDdCIAaiIEIAAgA2opAwAgBCkDAIU3AwAgAiAAQQhyIgRqIgUgAyAEaikDACAFKQMAhTcDACACIABBEHIiBGoiBSADIARqKQMAIAUpAwCFNwMAIAIgAEEYciIAaiIEIAAgA2opAwAgBCkDAIU3AwAgAUEEaiIBQYABRw0ACwsWACAAIAEgAiADEAMgACACIAIgAxADC3sCAX8BfiACIQkgATUCACEKIAQgBXIEQCABKAIEIANwIQkLIAAgCTYCACAAIAdBAWsgBSAEGyAIbCAGQQFrQQBBfyAGGyACIAlGG2oiASAFQQFqIAhsQQAgBBtqIAGtIAogCn5CIIh+QiCIp0F/c2ogByAIbHA2AgQgAAsEACMACwYAIAAkAAsQACMAIABrQXBxIgAkACAACwUAQYAICw==", A7)));
  }
});

// node_modules/openpgp/dist/lightweight/unbzip2-stream.min.mjs
var unbzip2_stream_min_exports = {};
__export(unbzip2_stream_min_exports, {
  i: () => u5
});
function r5(r7, t7) {
  return t7.forEach((function(t8) {
    t8 && "string" != typeof t8 && !Array.isArray(t8) && Object.keys(t8).forEach((function(e7) {
      if ("default" !== e7 && !(e7 in r7)) {
        var n7 = Object.getOwnPropertyDescriptor(t8, e7);
        Object.defineProperty(r7, e7, n7.get ? n7 : { enumerable: true, get: function() {
          return t8[e7];
        } });
      }
    }));
  })), Object.freeze(r7);
}
function t5(r7) {
  return r7 && r7.__esModule && Object.prototype.hasOwnProperty.call(r7, "default") ? r7.default : r7;
}
var e5, n5, a5, o5, i5, f5, s5, u5;
var init_unbzip2_stream_min = __esm({
  "node_modules/openpgp/dist/lightweight/unbzip2-stream.min.mjs"() {
    s5 = (function() {
      if (f5) return i5;
      f5 = 1;
      const r7 = (function() {
        if (n5) return e5;
        function r8(r9) {
          this.name = "Bzip2Error", this.message = r9, this.stack = Error().stack;
        }
        n5 = 1, r8.prototype = Error();
        var t8 = function(t9) {
          throw new r8(t9);
        }, a7 = {};
        return a7.Bzip2Error = r8, a7.crcTable = [0, 79764919, 159529838, 222504665, 319059676, 398814059, 445009330, 507990021, 638119352, 583659535, 797628118, 726387553, 890018660, 835552979, 1015980042, 944750013, 1276238704, 1221641927, 1167319070, 1095957929, 1595256236, 1540665371, 1452775106, 1381403509, 1780037320, 1859660671, 1671105958, 1733955601, 2031960084, 2111593891, 1889500026, 1952343757, 2552477408, 2632100695, 2443283854, 2506133561, 2334638140, 2414271883, 2191915858, 2254759653, 3190512472, 3135915759, 3081330742, 3009969537, 2905550212, 2850959411, 2762807018, 2691435357, 3560074640, 3505614887, 3719321342, 3648080713, 3342211916, 3287746299, 3467911202, 3396681109, 4063920168, 4143685023, 4223187782, 4286162673, 3779000052, 3858754371, 3904687514, 3967668269, 881225847, 809987520, 1023691545, 969234094, 662832811, 591600412, 771767749, 717299826, 311336399, 374308984, 453813921, 533576470, 25881363, 88864420, 134795389, 214552010, 2023205639, 2086057648, 1897238633, 1976864222, 1804852699, 1867694188, 1645340341, 1724971778, 1587496639, 1516133128, 1461550545, 1406951526, 1302016099, 1230646740, 1142491917, 1087903418, 2896545431, 2825181984, 2770861561, 2716262478, 3215044683, 3143675388, 3055782693, 3001194130, 2326604591, 2389456536, 2200899649, 2280525302, 2578013683, 2640855108, 2418763421, 2498394922, 3769900519, 3832873040, 3912640137, 3992402750, 4088425275, 4151408268, 4197601365, 4277358050, 3334271071, 3263032808, 3476998961, 3422541446, 3585640067, 3514407732, 3694837229, 3640369242, 1762451694, 1842216281, 1619975040, 1682949687, 2047383090, 2127137669, 1938468188, 2001449195, 1325665622, 1271206113, 1183200824, 1111960463, 1543535498, 1489069629, 1434599652, 1363369299, 622672798, 568075817, 748617968, 677256519, 907627842, 853037301, 1067152940, 995781531, 51762726, 131386257, 177728840, 240578815, 269590778, 349224269, 429104020, 491947555, 4046411278, 4126034873, 4172115296, 4234965207, 3794477266, 3874110821, 3953728444, 4016571915, 3609705398, 3555108353, 3735388376, 3664026991, 3290680682, 3236090077, 3449943556, 3378572211, 3174993278, 3120533705, 3032266256, 2961025959, 2923101090, 2868635157, 2813903052, 2742672763, 2604032198, 2683796849, 2461293480, 2524268063, 2284983834, 2364738477, 2175806836, 2238787779, 1569362073, 1498123566, 1409854455, 1355396672, 1317987909, 1246755826, 1192025387, 1137557660, 2072149281, 2135122070, 1912620623, 1992383480, 1753615357, 1816598090, 1627664531, 1707420964, 295390185, 358241886, 404320391, 483945776, 43990325, 106832002, 186451547, 266083308, 932423249, 861060070, 1041341759, 986742920, 613929101, 542559546, 756411363, 701822548, 3316196985, 3244833742, 3425377559, 3370778784, 3601682597, 3530312978, 3744426955, 3689838204, 3819031489, 3881883254, 3928223919, 4007849240, 4037393693, 4100235434, 4180117107, 4259748804, 2310601993, 2373574846, 2151335527, 2231098320, 2596047829, 2659030626, 2470359227, 2550115596, 2947551409, 2876312838, 2788305887, 2733848168, 3165939309, 3094707162, 3040238851, 2985771188], a7.array = function(r9) {
          var t9 = 0, e7 = 0, n7 = [0, 1, 3, 7, 15, 31, 63, 127, 255];
          return function(a8) {
            for (var o7 = 0; a8 > 0; ) {
              var i7 = 8 - t9;
              a8 >= i7 ? (o7 <<= i7, o7 |= n7[i7] & r9[e7++], t9 = 0, a8 -= i7) : (o7 <<= a8, o7 |= (r9[e7] & n7[a8] << 8 - a8 - t9) >> 8 - a8 - t9, t9 += a8, a8 = 0);
            }
            return o7;
          };
        }, a7.simple = function(r9, t9) {
          var e7 = a7.array(r9), n7 = false, o7 = 1e5 * a7.header(e7), i7 = new Int32Array(o7);
          do {
            n7 = a7.decompress(e7, t9, i7, o7);
          } while (!n7);
        }, a7.header = function(r9) {
          this.byteCount = new Int32Array(256), this.symToByte = new Uint8Array(256), this.mtfSymbol = new Int32Array(256), this.selectors = new Uint8Array(32768), 4348520 != r9(24) && t8("No magic number found");
          var e7 = r9(8) - 48;
          return (e7 < 1 || e7 > 9) && t8("Not a BZIP archive"), e7;
        }, a7.decompress = function(r9, e7, n7, a8, o7) {
          for (var i7 = -1, f7 = "", s7 = 0; s7 < 6; s7++) f7 += r9(8).toString(16);
          if ("177245385090" == f7) return (0 | r9(32)) !== o7 && t8("Error in bzip2: crc32 do not match"), r9(null), null;
          "314159265359" != f7 && t8("Invalid bzip data");
          var u7 = 0 | r9(32);
          r9(1) && t8("unsupported obsolete version");
          var l5 = r9(24);
          l5 > a8 && t8("Initial position larger than buffer size");
          var c6 = r9(16), y7 = 0;
          for (s7 = 0; s7 < 16; s7++) if (c6 & 1 << 15 - s7) {
            var d5 = r9(16);
            for (m5 = 0; m5 < 16; m5++) d5 & 1 << 15 - m5 && (this.symToByte[y7++] = 16 * s7 + m5);
          }
          var b5 = r9(3);
          (b5 < 2 || b5 > 6) && t8("Invalid bzip data");
          var h6 = r9(15);
          for (0 == h6 && t8("Invalid bzip data"), s7 = 0; s7 < b5; s7++) this.mtfSymbol[s7] = s7;
          for (s7 = 0; s7 < h6; s7++) {
            for (var m5 = 0; r9(1); m5++) m5 >= b5 && t8("Invalid bzip data");
            var p4 = this.mtfSymbol[m5];
            for (d5 = m5 - 1; d5 >= 0; d5--) this.mtfSymbol[d5 + 1] = this.mtfSymbol[d5];
            this.mtfSymbol[0] = p4, this.selectors[s7] = p4;
          }
          var v6, w7, I7, z6, g6 = y7 + 2, A7 = [], S6 = new Uint8Array(258), E7 = new Uint16Array(21);
          for (m5 = 0; m5 < b5; m5++) {
            for (c6 = r9(5), s7 = 0; s7 < g6; s7++) {
              for (; (c6 < 1 || c6 > 20) && t8("Invalid bzip data"), r9(1); ) r9(1) ? c6-- : c6++;
              S6[s7] = c6;
            }
            var C7, R6;
            for (C7 = R6 = S6[0], s7 = 1; s7 < g6; s7++) S6[s7] > R6 ? R6 = S6[s7] : S6[s7] < C7 && (C7 = S6[s7]);
            (v6 = A7[m5] = {}).permute = new Int32Array(258), v6.limit = new Int32Array(21), v6.base = new Int32Array(21), v6.minLen = C7, v6.maxLen = R6;
            var B6 = v6.base, O5 = v6.limit, T5 = 0;
            for (s7 = C7; s7 <= R6; s7++) for (c6 = 0; c6 < g6; c6++) S6[c6] == s7 && (v6.permute[T5++] = c6);
            for (s7 = C7; s7 <= R6; s7++) E7[s7] = O5[s7] = 0;
            for (s7 = 0; s7 < g6; s7++) E7[S6[s7]]++;
            for (T5 = c6 = 0, s7 = C7; s7 < R6; s7++) T5 += E7[s7], O5[s7] = T5 - 1, T5 <<= 1, B6[s7 + 1] = T5 - (c6 += E7[s7]);
            O5[R6] = T5 + E7[R6] - 1, B6[C7] = 0;
          }
          for (s7 = 0; s7 < 256; s7++) this.mtfSymbol[s7] = s7, this.byteCount[s7] = 0;
          for (w7 = I7 = g6 = z6 = 0; ; ) {
            for (g6-- || (g6 = 49, z6 >= h6 && t8("Invalid bzip data"), B6 = (v6 = A7[this.selectors[z6++]]).base, O5 = v6.limit), m5 = r9(s7 = v6.minLen); s7 > v6.maxLen && t8("Invalid bzip data"), !(m5 <= O5[s7]); ) s7++, m5 = m5 << 1 | r9(1);
            ((m5 -= B6[s7]) < 0 || m5 >= 258) && t8("Invalid bzip data");
            var U7 = v6.permute[m5];
            if (0 != U7 && 1 != U7) {
              if (w7) for (w7 = 0, I7 + c6 > a8 && t8("Invalid bzip data"), p4 = this.symToByte[this.mtfSymbol[0]], this.byteCount[p4] += c6; c6--; ) n7[I7++] = p4;
              if (U7 > y7) break;
              for (I7 >= a8 && t8("Invalid bzip data"), s7 = U7 - 1, p4 = this.mtfSymbol[s7], d5 = s7 - 1; d5 >= 0; d5--) this.mtfSymbol[d5 + 1] = this.mtfSymbol[d5];
              this.mtfSymbol[0] = p4, p4 = this.symToByte[p4], this.byteCount[p4]++, n7[I7++] = p4;
            } else w7 || (w7 = 1, c6 = 0), c6 += 0 == U7 ? w7 : 2 * w7, w7 <<= 1;
          }
          for ((l5 < 0 || l5 >= I7) && t8("Invalid bzip data"), m5 = 0, s7 = 0; s7 < 256; s7++) d5 = m5 + this.byteCount[s7], this.byteCount[s7] = m5, m5 = d5;
          for (s7 = 0; s7 < I7; s7++) p4 = 255 & n7[s7], n7[this.byteCount[p4]] |= s7 << 8, this.byteCount[p4]++;
          var _5, j6, k6, x6 = 0, L4 = 0, M7 = 0;
          for (I7 && (L4 = 255 & (x6 = n7[l5]), x6 >>= 8, M7 = -1); I7; ) {
            for (I7--, j6 = L4, L4 = 255 & (x6 = n7[x6]), x6 >>= 8, 3 == M7++ ? (_5 = L4, k6 = j6, L4 = -1) : (_5 = 1, k6 = L4); _5--; ) i7 = 4294967295 & (i7 << 8 ^ this.crcTable[255 & (i7 >> 24 ^ k6)]), e7(k6);
            L4 != j6 && (M7 = 0);
          }
          return (0 | (i7 = ~i7 >>> 0)) != (0 | u7) && t8("Error in bzip2: crc32 do not match"), 4294967295 & (i7 ^ (o7 << 1 | o7 >>> 31));
        }, e5 = a7;
      })(), t7 = (function() {
        if (o5) return a5;
        o5 = 1;
        var r8 = [0, 1, 3, 7, 15, 31, 63, 127, 255];
        return a5 = function(t8) {
          var e7 = 0, n7 = 0, a7 = t8(), o7 = function(i7) {
            if (null === i7 && 0 != e7) return e7 = 0, void n7++;
            for (var f7 = 0; i7 > 0; ) {
              n7 >= a7.length && (n7 = 0, a7 = t8());
              var s7 = 8 - e7;
              0 === e7 && i7 > 0 && o7.bytesRead++, i7 >= s7 ? (f7 <<= s7, f7 |= r8[s7] & a7[n7++], e7 = 0, i7 -= s7) : (f7 <<= i7, f7 |= (a7[n7] & r8[i7] << 8 - i7 - e7) >> 8 - i7 - e7, e7 += i7, i7 = 0);
            }
            return f7;
          };
          return o7.bytesRead = 0, o7;
        };
      })();
      return i5 = function(e7, n7 = 1 / 0) {
        const a7 = [];
        let o7 = 0, i7 = 0, f7 = false, s7 = false, u7 = null, l5 = null, c6 = 0;
        let y7, d5 = 0;
        function b5(t8) {
          if (!f7) try {
            return (function(t9) {
              if (i7) {
                const e8 = 1e5 * i7, a8 = new Int32Array(e8);
                let o8 = new Uint8Array(32768), f8 = 0;
                const s8 = function(r8) {
                  if (++c6 > n7) throw Error("Maximum decompressed size exceeded");
                  if (f8 === o8.length) {
                    const r9 = Math.min(2 * o8.length, f8 + (n7 - c6) + 1), t10 = new Uint8Array(r9);
                    t10.set(o8), o8 = t10;
                  }
                  o8[f8++] = r8;
                };
                return l5 = r7.decompress(u7, s8, a8, e8, l5), null === l5 ? (i7 = 0, false) : (t9(o8.subarray(0, f8)), true);
              }
              return i7 = r7.header(u7), l5 = 0, false;
            })((function(r8) {
              t8.enqueue(r8), null !== r8 && (d5 += r8.length);
            }));
          } catch (r8) {
            return t8.error(r8), f7 = true, true;
          }
        }
        return new ReadableStream({ start() {
          y7 = e7.getReader();
        }, async pull(r8) {
          try {
            for (; ; ) {
              for (; !(s7 || u7 && o7 - u7.bytesRead + 1 >= 25e3 + 1e5 * (i7 || 4)); ) {
                const { value: r9, done: e8 } = await y7.read();
                e8 ? s7 = true : (a7.push(r9), o7 += r9.length, null === u7 && (u7 = t7((function() {
                  return a7.shift();
                }))));
              }
              for (; s7 ? u7 && o7 > u7.bytesRead : u7 && o7 - u7.bytesRead + 1 >= 25e3 + 1e5 * (i7 || 4); ) if (b5(r8)) return;
              if (s7 && !f7 && (!u7 || o7 <= u7.bytesRead)) return void (null === l5 ? r8.close() : r8.error(Error("input stream ended prematurely")));
            }
          } catch (t8) {
            r8.error(t8);
          }
        }, async cancel(r8) {
          await y7.abort(r8);
        } }, { highWaterMark: 0 });
      };
    })();
    u5 = /* @__PURE__ */ r5({ __proto__: null, default: /* @__PURE__ */ t5(s5) }, [s5]);
  }
});

// node_modules/@noble/hashes/_u64.js
var fromNumH = (n7) => n7 / 2 ** 32 | 0;
var fromNumL = (n7) => n7 >>> 0;
function setU64FromNum(view, byteOffset, n7, isLE) {
  const h6 = fromNumH(n7);
  const l5 = fromNumL(n7);
  view.setUint32(byteOffset, isLE ? l5 : h6, isLE);
  view.setUint32(byteOffset + 4, isLE ? h6 : l5, isLE);
}

// node_modules/@noble/hashes/utils.js
function isBytes(a7) {
  return a7 instanceof Uint8Array || ArrayBuffer.isView(a7) && a7.constructor.name === "Uint8Array" && "BYTES_PER_ELEMENT" in a7 && a7.BYTES_PER_ELEMENT === 1;
}
var atitle = (title) => title ? `"${title}" ` : "";
function anumber(n7, title = "") {
  if (typeof n7 !== "number")
    throw new TypeError(atitle(title) + "expected number, got " + typeof n7);
  if (!Number.isSafeInteger(n7) || n7 < 0)
    throw new RangeError(atitle(title) + "expected integer >= 0, got " + n7);
  return n7;
}
function abytes(value, length, title = "") {
  if (isBytes(value) && (length === void 0 || value.length === length))
    return value;
  if (length !== void 0)
    anumber(length, "length");
  const bytes = isBytes(value);
  const ofLen = length !== void 0 ? ` of length ${length}` : "";
  const got = bytes ? `length=${value.length}` : `type=${typeof value}`;
  const message = atitle(title) + "expected Uint8Array" + ofLen + ", got " + got;
  if (!bytes)
    throw new TypeError(message);
  throw new RangeError(message);
}
var aobject = (value, label) => {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new TypeError((label === "object" ? "" : `"${label}" `) + "expected object, got type=" + typeof value);
};
var aopts = (value, label) => {
  aobject(value, label);
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null)
    throw new TypeError(`"${label}" expected plain object`);
  if (Object.hasOwn(value, "__proto__"))
    throw new TypeError(`"${label}.__proto__" is not allowed`);
};
function aexists(instance, checkFinished = true) {
  if (instance.destroyed)
    throw new Error("hash was destroyed");
  if (checkFinished && instance.finished)
    throw new Error("digest() was already called");
}
function aoutput(out, instance) {
  abytes(out, void 0, "output");
  const min = instance.outputLen;
  if (!(out.length >= min)) {
    throw new RangeError('"output" expected length >= ' + min);
  }
}
function clean(...arrays) {
  for (let i7 = 0; i7 < arrays.length; i7++) {
    arrays[i7].fill(0);
  }
}
function createView(arr) {
  return new DataView(arr.buffer, arr.byteOffset, arr.byteLength);
}
function rotr(word, shift) {
  return word << 32 - shift | word >>> shift;
}
function checkOpts(defaults, opts, title = "opts") {
  aopts(defaults, "defaults");
  if (opts !== void 0)
    aopts(opts, title);
  const merged = Object.assign(/* @__PURE__ */ Object.create(null), defaults, opts);
  return merged;
}
function createHasher(hashCons, info = {}) {
  if (typeof hashCons !== "function")
    throw new TypeError('"hashCons" expected function, got type=' + typeof hashCons);
  info = checkOpts({}, info, "info");
  const hashC = (msg, opts) => hashCons(opts).update(msg).digest();
  const tmp = hashCons(void 0);
  hashC.outputLen = tmp.outputLen;
  hashC.blockLen = tmp.blockLen;
  hashC.canXOF = tmp.canXOF;
  hashC.create = (opts) => hashCons(opts);
  Object.assign(hashC, info);
  return Object.freeze(hashC);
}
var oidNist = (suffix) => ({
  // Current NIST hashAlgs suffixes used here fit in one DER subidentifier octet.
  // Larger suffix values would need base-128 OID encoding and a different length byte.
  oid: Uint8Array.from([6, 9, 96, 134, 72, 1, 101, 3, 4, 2, suffix])
});

// node_modules/@noble/hashes/_md.js
function Chi(a7, b5, c6) {
  return a7 & b5 ^ ~a7 & c6;
}
function Maj(a7, b5, c6) {
  return a7 & b5 ^ a7 & c6 ^ b5 & c6;
}
var HashMD = class {
  constructor(blockLen, outputLen, padOffset, isLE) {
    __publicField(this, "blockLen");
    __publicField(this, "outputLen");
    __publicField(this, "canXOF", false);
    __publicField(this, "padOffset");
    __publicField(this, "isLE");
    // For partial updates less than block size
    __publicField(this, "buffer");
    __publicField(this, "view");
    __publicField(this, "finished", false);
    __publicField(this, "length", 0);
    __publicField(this, "pos", 0);
    __publicField(this, "destroyed", false);
    this.blockLen = blockLen;
    this.outputLen = outputLen;
    this.padOffset = padOffset;
    this.isLE = isLE;
    this.buffer = new Uint8Array(blockLen);
    this.view = createView(this.buffer);
  }
  update(data) {
    aexists(this);
    abytes(data);
    const { view, buffer, blockLen } = this;
    const len = data.length;
    let processed = false;
    for (let pos = 0; pos < len; ) {
      const take = Math.min(blockLen - this.pos, len - pos);
      if (take === blockLen) {
        const dataView = createView(data);
        for (; blockLen <= len - pos; pos += blockLen)
          this.process(dataView, pos);
        processed = true;
        continue;
      }
      buffer.set(pos === 0 && take === len ? data : data.subarray(pos, pos + take), this.pos);
      this.pos += take;
      pos += take;
      if (this.pos === blockLen) {
        this.process(view, 0);
        this.pos = 0;
        processed = true;
      }
    }
    this.length += data.length;
    if (processed)
      this.roundClean();
    return this;
  }
  digestInto(out) {
    aexists(this);
    aoutput(out, this);
    this.finished = true;
    const { buffer, view, blockLen, isLE } = this;
    let { pos } = this;
    buffer[pos++] = 128;
    buffer.fill(0, pos);
    if (this.padOffset > blockLen - pos) {
      this.process(view, 0);
      buffer.fill(0);
    }
    setU64FromNum(view, blockLen - 8, this.length * 8, isLE);
    this.process(view, 0);
    this.roundClean();
    const oview = out === buffer ? view : createView(out);
    const len = this.outputLen;
    const outLen = len / 4;
    const state = this.get();
    if (len % 4 || outLen > state.length)
      throw new Error("invalid outputLen");
    for (let i7 = 0; i7 < outLen; i7++)
      oview.setUint32(4 * i7, state[i7], isLE);
  }
  digest() {
    const { buffer, outputLen } = this;
    this.digestInto(buffer);
    const res = buffer.slice(0, outputLen);
    this.destroy();
    return res;
  }
  _cloneIntoMeta(to2) {
    const { buffer, length, finished, destroyed, pos } = this;
    to2.destroyed = destroyed;
    to2.finished = finished;
    to2.length = length;
    to2.pos = pos;
    if (pos)
      to2.buffer.set(buffer);
    return to2;
  }
  clone() {
    return this._cloneInto();
  }
};
var SHA256_IV = /* @__PURE__ */ Uint32Array.from([
  1779033703,
  3144134277,
  1013904242,
  2773480762,
  1359893119,
  2600822924,
  528734635,
  1541459225
]);

// node_modules/@noble/hashes/sha2.js
var SHA256_K = /* @__PURE__ */ Uint32Array.from([
  1116352408,
  1899447441,
  3049323471,
  3921009573,
  961987163,
  1508970993,
  2453635748,
  2870763221,
  3624381080,
  310598401,
  607225278,
  1426881987,
  1925078388,
  2162078206,
  2614888103,
  3248222580,
  3835390401,
  4022224774,
  264347078,
  604807628,
  770255983,
  1249150122,
  1555081692,
  1996064986,
  2554220882,
  2821834349,
  2952996808,
  3210313671,
  3336571891,
  3584528711,
  113926993,
  338241895,
  666307205,
  773529912,
  1294757372,
  1396182291,
  1695183700,
  1986661051,
  2177026350,
  2456956037,
  2730485921,
  2820302411,
  3259730800,
  3345764771,
  3516065817,
  3600352804,
  4094571909,
  275423344,
  430227734,
  506948616,
  659060556,
  883997877,
  958139571,
  1322822218,
  1537002063,
  1747873779,
  1955562222,
  2024104815,
  2227730452,
  2361852424,
  2428436474,
  2756734187,
  3204031479,
  3329325298
]);
var SHA256_W = /* @__PURE__ */ new Uint32Array(64);
var SHA2_32B = class extends HashMD {
  constructor(outputLen, IV) {
    super(64, outputLen, 8, false);
    // We cannot use array here since array allows indexing by variable
    // which means optimizer/compiler cannot use registers.
    // Numeric initializers matter: starting the fields as `undefined` changes
    // V8's field representation and makes sha256 3x slower (measured).
    __publicField(this, "A", 0);
    __publicField(this, "B", 0);
    __publicField(this, "C", 0);
    __publicField(this, "D", 0);
    __publicField(this, "E", 0);
    __publicField(this, "F", 0);
    __publicField(this, "G", 0);
    __publicField(this, "H", 0);
    this.A = IV[0] | 0;
    this.B = IV[1] | 0;
    this.C = IV[2] | 0;
    this.D = IV[3] | 0;
    this.E = IV[4] | 0;
    this.F = IV[5] | 0;
    this.G = IV[6] | 0;
    this.H = IV[7] | 0;
  }
  get() {
    const { A: A7, B: B6, C: C7, D: D7, E: E7, F: F6, G: G6, H: H6 } = this;
    return [A7, B6, C7, D7, E7, F6, G6, H6];
  }
  // prettier-ignore
  set(A7, B6, C7, D7, E7, F6, G6, H6) {
    this.A = A7 | 0;
    this.B = B6 | 0;
    this.C = C7 | 0;
    this.D = D7 | 0;
    this.E = E7 | 0;
    this.F = F6 | 0;
    this.G = G6 | 0;
    this.H = H6 | 0;
  }
  _cloneInto(to2) {
    (to2 || (to2 = new this.constructor())).set(...this.get());
    return this._cloneIntoMeta(to2);
  }
  process(view, offset) {
    for (let i7 = 0; i7 < 16; i7++, offset += 4)
      SHA256_W[i7] = view.getUint32(offset, false);
    for (let i7 = 16; i7 < 64; i7++) {
      const W15 = SHA256_W[i7 - 15];
      const W22 = SHA256_W[i7 - 2];
      const s0 = rotr(W15, 7) ^ rotr(W15, 18) ^ W15 >>> 3;
      const s1 = rotr(W22, 17) ^ rotr(W22, 19) ^ W22 >>> 10;
      SHA256_W[i7] = s1 + SHA256_W[i7 - 7] + s0 + SHA256_W[i7 - 16] | 0;
    }
    let { A: A7, B: B6, C: C7, D: D7, E: E7, F: F6, G: G6, H: H6 } = this;
    for (let i7 = 0; i7 < 64; i7++) {
      const sigma1 = rotr(E7, 6) ^ rotr(E7, 11) ^ rotr(E7, 25);
      const T1 = H6 + sigma1 + Chi(E7, F6, G6) + SHA256_K[i7] + SHA256_W[i7] | 0;
      const sigma0 = rotr(A7, 2) ^ rotr(A7, 13) ^ rotr(A7, 22);
      const T22 = sigma0 + Maj(A7, B6, C7) | 0;
      H6 = G6;
      G6 = F6;
      F6 = E7;
      E7 = D7 + T1 | 0;
      D7 = C7;
      C7 = B6;
      B6 = A7;
      A7 = T1 + T22 | 0;
    }
    A7 = A7 + this.A | 0;
    B6 = B6 + this.B | 0;
    C7 = C7 + this.C | 0;
    D7 = D7 + this.D | 0;
    E7 = E7 + this.E | 0;
    F6 = F6 + this.F | 0;
    G6 = G6 + this.G | 0;
    H6 = H6 + this.H | 0;
    this.set(A7, B6, C7, D7, E7, F6, G6, H6);
  }
  roundClean() {
    clean(SHA256_W);
  }
  destroy() {
    this.destroyed = true;
    this.set(0, 0, 0, 0, 0, 0, 0, 0);
    clean(this.buffer);
  }
};
var _SHA256 = class extends SHA2_32B {
  constructor() {
    super(32, SHA256_IV);
  }
};
var sha256 = /* @__PURE__ */ createHasher(
  () => new _SHA256(),
  /* @__PURE__ */ oidNist(1)
);

// node_modules/openpgp/dist/lightweight/openpgp.min.mjs
var e6 = "undefined" != typeof window ? window : "undefined" != typeof global ? global : "undefined" != typeof self ? self : {};
var t6 = /* @__PURE__ */ Symbol("doneWritingPromise");
var r6 = /* @__PURE__ */ Symbol("doneWritingResolve");
var i6 = /* @__PURE__ */ Symbol("doneWritingReject");
var n6 = /* @__PURE__ */ Symbol("readingIndex");
var s6 = class _s2 extends Array {
  constructor() {
    super(), Object.setPrototypeOf(this, _s2.prototype), this[t6] = new Promise(((e7, t7) => {
      this[r6] = e7, this[i6] = t7;
    })), this[t6].catch((() => {
    }));
  }
};
function a6(e7) {
  return e7 && e7.getReader && Array.isArray(e7);
}
function o6(e7) {
  if (!a6(e7)) {
    const t7 = e7.getWriter(), r7 = t7.releaseLock;
    return t7.releaseLock = () => {
      t7.closed.catch((function() {
      })), r7.call(t7);
    }, t7;
  }
  this.stream = e7;
}
function c5(t7) {
  if (a6(t7)) return "array";
  if (e6.ReadableStream && e6.ReadableStream.prototype.isPrototypeOf(t7)) return "web";
  if (t7 && !(e6.ReadableStream && t7 instanceof e6.ReadableStream) && "function" == typeof t7._read && "object" == typeof t7._readableState) throw Error("Native Node streams are no longer supported: please manually convert the stream to a WebStream, using e.g. `stream.Readable.toWeb`");
  return !(!t7 || !t7.getReader) && "web-like";
}
function u6(e7) {
  return Uint8Array.prototype.isPrototypeOf(e7);
}
function h5(e7) {
  if (1 === e7.length) return e7[0];
  let t7 = 0;
  for (let r8 = 0; r8 < e7.length; r8++) {
    if (!u6(e7[r8])) throw Error("concatUint8Array: Data must be in the form of a Uint8Array");
    t7 += e7[r8].length;
  }
  const r7 = new Uint8Array(t7);
  let i7 = 0;
  return e7.forEach((function(e8) {
    r7.set(e8, i7), i7 += e8.length;
  })), r7;
}
s6.prototype.getReader = function() {
  return void 0 === this[n6] && (this[n6] = 0), { read: async () => (await this[t6], this[n6] === this.length ? { value: void 0, done: true } : { value: this[this[n6]++], done: false }) };
}, s6.prototype.readToEnd = async function(e7) {
  await this[t6];
  const r7 = e7(this.slice(this[n6]));
  return this.length = 0, r7;
}, s6.prototype.clone = function() {
  const e7 = new s6();
  return e7[t6] = this[t6].then((() => {
    e7.push(...this);
  })), e7;
}, o6.prototype.write = async function(e7) {
  this.stream.push(e7);
}, o6.prototype.close = async function() {
  this.stream[r6]();
}, o6.prototype.abort = async function(e7) {
  return this.stream[i6](e7), e7;
}, o6.prototype.releaseLock = function() {
}, "object" == typeof e6.process && e6.process.versions;
var y6 = /* @__PURE__ */ new WeakSet();
var l4 = /* @__PURE__ */ Symbol("externalBuffer");
function p3(e7) {
  if (this.stream = e7, e7[l4] && (this[l4] = e7[l4].slice()), a6(e7)) {
    const t8 = e7.getReader();
    return this._read = t8.read.bind(t8), this._releaseLock = () => {
    }, void (this._cancel = () => {
    });
  }
  if (c5(e7)) {
    const t8 = e7.getReader();
    return this._read = t8.read.bind(t8), this._releaseLock = () => {
      t8.closed.catch((function() {
      })), t8.releaseLock();
    }, void (this._cancel = t8.cancel.bind(t8));
  }
  let t7 = false;
  this._read = async () => t7 || y6.has(e7) ? { value: void 0, done: true } : (t7 = true, { value: e7, done: false }), this._releaseLock = () => {
    if (t7) try {
      y6.add(e7);
    } catch {
    }
  };
}
function g5(e7) {
  return c5(e7) ? e7 : new ReadableStream({ start(t7) {
    t7.enqueue(e7), t7.close();
  } });
}
function d4(e7) {
  const t7 = c5(e7);
  if (t7) {
    if ("array" !== t7) throw Error("Can't convert Stream to ArrayStream here, call `readToEnd` first");
    return e7;
  }
  const r7 = new s6();
  return (async () => {
    const t8 = B5(r7);
    await t8.write(e7), await t8.close();
  })(), r7;
}
function f6(e7) {
  return e7.some(((e8) => c5(e8) && !a6(e8))) ? (function(e8) {
    const t7 = e8.map(g5), r7 = w6((async function(e9) {
      await Promise.all(n7.map(((t8) => x5(t8, e9))));
    }));
    let i7 = Promise.resolve();
    const n7 = t7.map(((e9, n8) => A6(e9, ((e10, s7) => (i7 = i7.then((() => m4(e10, r7.writable, { preventClose: n8 !== t7.length - 1 }))), i7)))));
    return r7.readable;
  })(e7) : e7.some(((e8) => a6(e8))) ? (function(e8) {
    const t7 = new s6();
    let r7 = Promise.resolve();
    return e8.forEach(((i7, n7) => (r7 = r7.then((() => m4(i7, t7, { preventClose: n7 !== e8.length - 1 }))), r7))), t7;
  })(e7) : "string" == typeof e7[0] ? e7.join("") : h5(e7);
}
async function m4(e7, t7, { preventClose: r7 = false, preventAbort: i7 = false, preventCancel: n7 = false } = {}) {
  if (c5(e7) && !a6(e7) && !a6(t7)) {
    e7 = g5(e7);
    try {
      if (e7[l4]) {
        const r8 = B5(t7);
        for (let t8 = 0; t8 < e7[l4].length; t8++) await r8.ready, await r8.write(e7[l4][t8]);
        r8.releaseLock();
      }
      await e7.pipeTo(t7, { preventClose: r7, preventAbort: i7, preventCancel: n7 });
    } catch {
    }
    return;
  }
  c5(e7) || (e7 = d4(e7));
  const s7 = C6(e7), o7 = B5(t7);
  try {
    for (; ; ) {
      await o7.ready;
      const { done: e8, value: t8 } = await s7.read();
      if (e8) {
        r7 || await o7.close();
        break;
      }
      await o7.write(t8);
    }
  } catch (e8) {
    i7 || await o7.abort(e8);
  } finally {
    s7.releaseLock(), o7.releaseLock();
  }
}
function w6(e7) {
  let t7, r7, i7, n7 = false, s7 = false;
  return { readable: new ReadableStream({ start(e8) {
    i7 = e8;
  }, pull() {
    t7 ? t7() : n7 = true;
  }, async cancel(t8) {
    s7 = true, e7 && await e7(t8), r7 && r7(t8);
  } }, { highWaterMark: 0 }), writable: new WritableStream({ write: async function(e8) {
    if (s7) throw Error("Stream is cancelled");
    i7.enqueue(e8), n7 ? n7 = false : (await new Promise(((e9, i8) => {
      t7 = e9, r7 = i8;
    })), t7 = null, r7 = null);
  }, close: i7.close.bind(i7), abort: i7.error.bind(i7) }) };
}
function b4(e7, t7 = () => {
}, r7 = () => {
}, i7 = { highWaterMark: 0 }) {
  if (c5(e7)) return v5(e7, t7, r7, i7);
  const n7 = t7(e7), s7 = r7();
  return void 0 !== n7 && void 0 !== s7 ? f6([n7, s7]) : void 0 !== n7 ? n7 : s7;
}
async function k5(e7, t7 = async () => {
}, r7 = async () => {
}, i7 = { highWaterMark: 1 }) {
  if (c5(e7)) return v5(e7, t7, r7, i7);
  const n7 = await t7(e7), s7 = await r7();
  return void 0 !== n7 && void 0 !== s7 ? f6([n7, s7]) : void 0 !== n7 ? n7 : s7;
}
function v5(e7, t7, r7, i7) {
  if (a6(e7)) {
    const i8 = new s6();
    return (async () => {
      const n7 = B5(i8);
      try {
        const i9 = await D6(e7), s7 = await t7(i9), a7 = await r7();
        let o7;
        o7 = void 0 !== s7 && void 0 !== a7 ? f6([s7, a7]) : void 0 !== s7 ? s7 : a7, await n7.write(o7), await n7.close();
      } catch (e8) {
        await n7.abort(e8);
      }
    })(), i8;
  }
  if (c5(e7)) {
    let n7, s7 = false;
    return new ReadableStream({ start() {
      n7 = e7.getReader();
    }, async pull(i8) {
      if (s7) return i8.close(), void e7.releaseLock();
      try {
        for (; ; ) {
          const { value: a7, done: o7 } = await n7.read();
          s7 = o7;
          const c6 = await (o7 ? r7 : t7)(a7);
          if (void 0 !== c6) return void i8.enqueue(c6);
          if (o7) return i8.close(), void e7.releaseLock();
        }
      } catch (e8) {
        i8.error(e8);
      }
    }, async cancel(e8) {
      await n7.cancel(e8);
    } }, i7);
  }
  throw Error("Unreachable");
}
function A6(e7, t7) {
  if (c5(e7) && !a6(e7)) {
    let r8;
    const i7 = new TransformStream({ start(e8) {
      r8 = e8;
    } }), n7 = m4(e7, i7.writable), s7 = w6((async function(e8) {
      r8.error(e8), await n7, await new Promise(((e9) => setTimeout(e9)));
    }));
    return t7(i7.readable, s7.writable), s7.readable;
  }
  e7 = d4(e7);
  const r7 = new s6();
  return t7(e7, r7), r7;
}
function K4(e7, t7) {
  let r7;
  const i7 = A6(e7, ((e8, n7) => {
    const s7 = C6(e8);
    s7.remainder = () => (s7.releaseLock(), m4(e8, n7), i7), r7 = t7(s7);
  }));
  return r7;
}
function E6(e7) {
  if (a6(e7)) return e7.clone();
  if (c5(e7)) {
    const t7 = (function(e8) {
      if (a6(e8)) throw Error("ArrayStream cannot be tee()d, use clone() instead");
      if (c5(e8)) {
        const t8 = g5(e8).tee();
        return t8[0][l4] = t8[1][l4] = e8[l4], t8;
      }
      return [U6(e8), U6(e8)];
    })(e7);
    return P4(e7, t7[0]), t7[1];
  }
  return U6(e7);
}
function S5(e7) {
  return a6(e7) ? E6(e7) : c5(e7) ? new ReadableStream({ start(t7) {
    const r7 = A6(e7, (async (e8, r8) => {
      const i7 = C6(e8), n7 = B5(r8);
      try {
        for (; ; ) {
          await n7.ready;
          const { done: e9, value: r9 } = await i7.read();
          if (e9) {
            try {
              t7.close();
            } catch {
            }
            return void await n7.close();
          }
          try {
            t7.enqueue(r9);
          } catch {
          }
          await n7.write(r9);
        }
      } catch (e9) {
        t7.error(e9), await n7.abort(e9);
      }
    }));
    P4(e7, r7);
  } }) : U6(e7);
}
function P4(e7, t7) {
  Object.entries(Object.getOwnPropertyDescriptors(e7.constructor.prototype)).forEach((([r7, i7]) => {
    "constructor" !== r7 && (i7.value ? i7.value = i7.value.bind(t7) : i7.get = i7.get.bind(t7), Object.defineProperty(e7, r7, i7));
  }));
}
function U6(e7, t7 = 0, r7 = 1 / 0) {
  if (a6(e7)) throw Error("Not implemented");
  if (c5(e7)) {
    if (t7 >= 0 && r7 >= 0) {
      let i7, n7 = 0;
      return new ReadableStream({ start() {
        i7 = e7.getReader();
      }, async pull(s7) {
        try {
          for (; ; ) {
            if (!(n7 < r7)) return s7.close(), void e7.releaseLock();
            {
              const { value: a7, done: o7 } = await i7.read();
              if (o7) return s7.close(), void e7.releaseLock();
              let c6;
              if (n7 + a7.length >= t7 && (c6 = U6(a7, Math.max(t7 - n7, 0), r7 - n7)), n7 += a7.length, c6) return void s7.enqueue(c6);
            }
          }
        } catch (e8) {
          s7.error(e8);
        }
      }, async cancel(e8) {
        await i7.cancel(e8);
      } }, { highWaterMark: 0 });
    }
    if (t7 < 0 && (r7 < 0 || r7 === 1 / 0)) {
      let i7 = [];
      return b4(e7, ((e8) => {
        e8.length >= -t7 ? i7 = [e8] : i7.push(e8);
      }), (() => U6(f6(i7), t7, r7)));
    }
    if (0 === t7 && r7 < 0) {
      let i7;
      return b4(e7, ((e8) => {
        const n7 = i7 ? f6([i7, e8]) : e8;
        if (n7.length >= -r7) return i7 = U6(n7, r7), U6(n7, t7, r7);
        i7 = n7;
      }));
    }
    return console.warn(`stream.slice(input, ${t7}, ${r7}) not implemented efficiently.`), I6((async () => U6(await D6(e7), t7, r7)));
  }
  return e7[l4] && (e7 = f6(e7[l4].concat([e7]))), u6(e7) ? e7.subarray(t7, r7 === 1 / 0 ? e7.length : r7) : e7.slice(t7, r7);
}
async function D6(e7, t7 = f6) {
  return a6(e7) ? e7.readToEnd(t7) : c5(e7) ? C6(e7).readToEnd(t7) : e7;
}
async function x5(e7, t7) {
  if (c5(e7)) {
    if (e7.cancel) {
      const r7 = await e7.cancel(t7);
      return await new Promise(((e8) => setTimeout(e8))), r7;
    }
    if (e7.destroy) return e7.destroy(t7), await new Promise(((e8) => setTimeout(e8))), t7;
  }
}
function I6(e7) {
  const t7 = new s6();
  return (async () => {
    const r7 = B5(t7);
    try {
      await r7.write(await e7()), await r7.close();
    } catch (e8) {
      await r7.abort(e8);
    }
  })(), t7;
}
function C6(e7) {
  return new p3(e7);
}
function B5(e7) {
  return new o6(e7);
}
p3.prototype.read = async function() {
  if (this[l4] && this[l4].length) {
    return { done: false, value: this[l4].shift() };
  }
  return this._read();
}, p3.prototype.releaseLock = function() {
  this[l4] && (this.stream[l4] = this[l4]), this._releaseLock();
}, p3.prototype.cancel = function(e7) {
  return this._cancel(e7);
}, p3.prototype.readLine = async function() {
  let e7, t7 = [];
  for (; !e7; ) {
    let { done: r7, value: i7 } = await this.read();
    if (i7 += "", r7) return t7.length ? f6(t7) : void 0;
    const n7 = i7.indexOf("\n") + 1;
    n7 && (e7 = f6(t7.concat(i7.substr(0, n7))), t7 = []), n7 !== i7.length && t7.push(i7.substr(n7));
  }
  return this.unshift(...t7), e7;
}, p3.prototype.readByte = async function() {
  const { done: e7, value: t7 } = await this.read();
  if (e7) return;
  const r7 = t7[0];
  return this.unshift(U6(t7, 1)), r7;
}, p3.prototype.readBytes = async function(e7) {
  const t7 = [];
  let r7 = 0;
  for (; ; ) {
    const { done: i7, value: n7 } = await this.read();
    if (i7) return t7.length ? f6(t7) : void 0;
    if (t7.push(n7), r7 += n7.length, r7 >= e7) {
      const r8 = f6(t7);
      return this.unshift(U6(r8, e7)), U6(r8, 0, e7);
    }
  }
}, p3.prototype.peekBytes = async function(e7) {
  const t7 = await this.readBytes(e7);
  return this.unshift(t7), t7;
}, p3.prototype.unshift = function(...e7) {
  this[l4] || (this[l4] = []), 1 === e7.length && u6(e7[0]) && this[l4].length && e7[0].length && this[l4][0].byteOffset >= e7[0].length ? this[l4][0] = new Uint8Array(this[l4][0].buffer, this[l4][0].byteOffset - e7[0].length, this[l4][0].byteLength + e7[0].length) : this[l4].unshift(...e7.filter(((e8) => e8 && e8.length)));
}, p3.prototype.readToEnd = async function(e7 = f6) {
  const t7 = [];
  for (; ; ) {
    const { done: e8, value: r7 } = await this.read();
    if (e8) break;
    t7.push(r7);
  }
  return e7(t7);
};
var T4 = /* @__PURE__ */ Symbol("byValue");
var M6 = { curve: { nistP256: "nistP256", p256: "nistP256", nistP384: "nistP384", p384: "nistP384", nistP521: "nistP521", p521: "nistP521", secp256k1: "secp256k1", ed25519Legacy: "ed25519Legacy", ed25519: "ed25519Legacy", curve25519Legacy: "curve25519Legacy", curve25519: "curve25519Legacy", brainpoolP256r1: "brainpoolP256r1", brainpoolP384r1: "brainpoolP384r1", brainpoolP512r1: "brainpoolP512r1" }, s2k: { simple: 0, salted: 1, iterated: 3, argon2: 4, gnu: 101 }, publicKey: { rsaEncryptSign: 1, rsaEncrypt: 2, rsaSign: 3, elgamal: 16, dsa: 17, ecdh: 18, ecdsa: 19, eddsaLegacy: 22, aedh: 23, aedsa: 24, x25519: 25, x448: 26, ed25519: 27, ed448: 28 }, symmetric: { idea: 1, tripledes: 2, cast5: 3, blowfish: 4, aes128: 7, aes192: 8, aes256: 9, twofish: 10 }, compression: { uncompressed: 0, zip: 1, zlib: 2, bzip2: 3 }, hash: { md5: 1, sha1: 2, ripemd: 3, sha256: 8, sha384: 9, sha512: 10, sha224: 11, sha3_256: 12, sha3_512: 14 }, webHash: { "SHA-1": 2, "SHA-256": 8, "SHA-384": 9, "SHA-512": 10 }, aead: { eax: 1, ocb: 2, gcm: 3, experimentalGCM: 100 }, packet: { publicKeyEncryptedSessionKey: 1, signature: 2, symEncryptedSessionKey: 3, onePassSignature: 4, secretKey: 5, publicKey: 6, secretSubkey: 7, compressedData: 8, symmetricallyEncryptedData: 9, marker: 10, literalData: 11, trust: 12, userID: 13, publicSubkey: 14, userAttribute: 17, symEncryptedIntegrityProtectedData: 18, modificationDetectionCode: 19, aeadEncryptedData: 20, padding: 21 }, literal: { binary: 98, text: 116, utf8: 117, mime: 109 }, signature: { binary: 0, text: 1, standalone: 2, certGeneric: 16, certPersona: 17, certCasual: 18, certPositive: 19, certRevocation: 48, subkeyBinding: 24, keyBinding: 25, key: 31, keyRevocation: 32, subkeyRevocation: 40, timestamp: 64, thirdParty: 80 }, signatureSubpacket: { signatureCreationTime: 2, signatureExpirationTime: 3, exportableCertification: 4, trustSignature: 5, regularExpression: 6, revocable: 7, keyExpirationTime: 9, placeholderBackwardsCompatibility: 10, preferredSymmetricAlgorithms: 11, revocationKey: 12, issuerKeyID: 16, notationData: 20, preferredHashAlgorithms: 21, preferredCompressionAlgorithms: 22, keyServerPreferences: 23, preferredKeyServer: 24, primaryUserID: 25, policyURI: 26, keyFlags: 27, signersUserID: 28, reasonForRevocation: 29, features: 30, signatureTarget: 31, embeddedSignature: 32, issuerFingerprint: 33, preferredAEADAlgorithms: 34, preferredCipherSuites: 39 }, keyFlags: { certifyKeys: 1, signData: 2, encryptCommunication: 4, encryptStorage: 8, splitPrivateKey: 16, authentication: 32, sharedPrivateKey: 128 }, armor: { multipartSection: 0, multipartLast: 1, signed: 2, message: 3, publicKey: 4, privateKey: 5, signature: 6 }, reasonForRevocation: { noReason: 0, keySuperseded: 1, keyCompromised: 2, keyRetired: 3, userIDInvalid: 32 }, features: { modificationDetection: 1, aead: 2, v5Keys: 4, seipdv2: 8 }, write: function(e7, t7) {
  if ("number" == typeof t7 && (t7 = this.read(e7, t7)), void 0 !== e7[t7]) return e7[t7];
  throw Error("Invalid enum value.");
}, read: function(e7, t7) {
  if (e7[T4] || (e7[T4] = [], Object.entries(e7).forEach((([t8, r7]) => {
    e7[T4][r7] = t8;
  }))), void 0 !== e7[T4][t7]) return e7[T4][t7];
  throw Error("Invalid enum value.");
} };
var L3 = { preferredHashAlgorithm: M6.hash.sha512, preferredSymmetricAlgorithm: M6.symmetric.aes256, preferredCompressionAlgorithm: M6.compression.uncompressed, aeadProtect: false, parseAEADEncryptedV4KeysAsLegacy: false, preferredAEADAlgorithm: M6.aead.gcm, aeadChunkSizeByte: 12, v6Keys: false, enableParsingV5Entities: false, s2kType: M6.s2k.iterated, s2kIterationCountByte: 224, s2kArgon2Params: { passes: 3, parallelism: 4, memoryExponent: 16 }, maxArgon2MemoryExponent: 30, allowUnauthenticatedMessages: false, allowUnauthenticatedStream: false, minRSABits: 2047, passwordCollisionCheck: false, allowInsecureDecryptionWithSigningKeys: false, allowInsecureVerificationWithReformattedKeys: false, allowMissingKeyFlags: false, constantTimePKCS1Decryption: false, constantTimePKCS1DecryptionSupportedSymmetricAlgorithms: /* @__PURE__ */ new Set([M6.symmetric.aes128, M6.symmetric.aes192, M6.symmetric.aes256]), ignoreUnsupportedPackets: true, ignoreMalformedPackets: false, enforceGrammar: true, additionalAllowedPackets: [], showVersion: false, showComment: false, versionString: "OpenPGP.js 6.3.2", commentString: "https://openpgpjs.org", maxUserIDLength: 5120, maxDecompressedMessageSize: 1 / 0, knownNotations: [], nonDeterministicSignaturesViaNotation: true, useEllipticFallback: true, rejectHashAlgorithms: /* @__PURE__ */ new Set([M6.hash.md5, M6.hash.ripemd]), rejectMessageHashAlgorithms: /* @__PURE__ */ new Set([M6.hash.md5, M6.hash.ripemd, M6.hash.sha1]), rejectPublicKeyAlgorithms: /* @__PURE__ */ new Set([M6.publicKey.elgamal, M6.publicKey.dsa]), rejectCurves: /* @__PURE__ */ new Set([M6.curve.secp256k1]) };
var F5 = (() => {
  try {
    return true;
  } catch {
  }
  return false;
})();
var N4 = { isString: function(e7) {
  return "string" == typeof e7 || e7 instanceof String;
}, nodeRequire: () => {
}, isArray: function(e7) {
  return e7 instanceof Array;
}, isUint8Array: u6, isStream: c5, getNobleCurve: async (e7, t7) => {
  if (!L3.useEllipticFallback) throw Error("This curve is only supported in the full build of OpenPGP.js");
  const { nobleCurves: r7 } = await Promise.resolve().then(() => (init_noble_curves_min(), noble_curves_min_exports));
  switch (e7) {
    case M6.publicKey.ecdh:
    case M6.publicKey.ecdsa: {
      const e8 = r7.get(t7);
      if (!e8) throw Error("Unsupported curve");
      return e8;
    }
    case M6.publicKey.x448:
      return r7.get("x448");
    case M6.publicKey.ed448:
      return r7.get("ed448");
    default:
      throw Error("Unsupported curve");
  }
}, readNumber: function(e7) {
  let t7 = 0;
  for (let r7 = 0; r7 < e7.length; r7++) t7 += 256 ** r7 * e7[e7.length - 1 - r7];
  return t7;
}, writeNumber: function(e7, t7) {
  const r7 = new Uint8Array(t7);
  for (let i7 = 0; i7 < t7; i7++) r7[i7] = e7 >> 8 * (t7 - i7 - 1) & 255;
  return r7;
}, readDate: function(e7) {
  const t7 = N4.readNumber(e7);
  return new Date(1e3 * t7);
}, writeDate: function(e7) {
  const t7 = Math.floor(e7.getTime() / 1e3);
  return N4.writeNumber(t7, 4);
}, normalizeDate: function(e7 = Date.now()) {
  return null === e7 || e7 === 1 / 0 ? e7 : new Date(1e3 * Math.floor(+e7 / 1e3));
}, readMPI: function(e7) {
  const t7 = (e7[0] << 8 | e7[1]) + 7 >>> 3;
  return N4.readExactSubarray(e7, 2, 2 + t7);
}, readExactSubarray: function(e7, t7, r7) {
  if (e7.length < r7) throw Error("Input array too short");
  return e7.subarray(t7, r7);
}, leftPad(e7, t7) {
  if (e7.length > t7) throw Error("Input array too long");
  const r7 = new Uint8Array(t7), i7 = t7 - e7.length;
  return r7.set(e7, i7), r7;
}, uint8ArrayToMPI: function(e7) {
  const t7 = N4.uint8ArrayBitLength(e7);
  if (0 === t7) throw Error("Zero MPI");
  const r7 = e7.subarray(e7.length - Math.ceil(t7 / 8)), i7 = new Uint8Array([(65280 & t7) >> 8, 255 & t7]);
  return N4.concatUint8Array([i7, r7]);
}, uint8ArrayBitLength: function(e7) {
  let t7;
  for (t7 = 0; t7 < e7.length && 0 === e7[t7]; t7++) ;
  if (t7 === e7.length) return 0;
  const r7 = e7.subarray(t7);
  return 8 * (r7.length - 1) + N4.nbits(r7[0]);
}, hexToUint8Array: function(e7) {
  const t7 = new Uint8Array(e7.length >> 1);
  for (let r7 = 0; r7 < e7.length >> 1; r7++) t7[r7] = parseInt(e7.substr(r7 << 1, 2), 16);
  return t7;
}, uint8ArrayToHex: function(e7) {
  const t7 = "0123456789abcdef";
  let r7 = "";
  return e7.forEach(((e8) => {
    r7 += t7[e8 >> 4] + t7[15 & e8];
  })), r7;
}, stringToUint8Array: function(e7) {
  return b4(e7, ((e8) => {
    if (!N4.isString(e8)) throw Error("stringToUint8Array: Data must be in the form of a string");
    const t7 = new Uint8Array(e8.length);
    for (let r7 = 0; r7 < e8.length; r7++) t7[r7] = e8.charCodeAt(r7);
    return t7;
  }));
}, uint8ArrayToString: function(e7) {
  const t7 = [], r7 = 16384, i7 = (e7 = new Uint8Array(e7)).length;
  for (let n7 = 0; n7 < i7; n7 += r7) t7.push(String.fromCharCode.apply(String, e7.subarray(n7, n7 + r7 < i7 ? n7 + r7 : i7)));
  return t7.join("");
}, encodeUTF8: function(e7) {
  const t7 = new TextEncoder("utf-8");
  function r7(e8, r8 = false) {
    return t7.encode(e8, { stream: !r8 });
  }
  return b4(e7, r7, (() => r7("", true)));
}, decodeUTF8: function(e7) {
  const t7 = new TextDecoder("utf-8");
  function r7(e8, r8 = false) {
    return t7.decode(e8, { stream: !r8 });
  }
  return b4(e7, r7, (() => r7(new Uint8Array(), true)));
}, concat: f6, concatUint8Array: h5, equalsUint8Array: function(e7, t7) {
  if (!N4.isUint8Array(e7) || !N4.isUint8Array(t7)) throw Error("Data must be in the form of a Uint8Array");
  if (e7.length !== t7.length) return false;
  for (let r7 = 0; r7 < e7.length; r7++) if (e7[r7] !== t7[r7]) return false;
  return true;
}, findLastIndex: function(e7, t7) {
  for (let r7 = e7.length; r7 >= 0; r7--) if (t7(e7[r7], r7, e7)) return r7;
  return -1;
}, timingSafeEqualsUint8Array: function(e7, t7) {
  if (e7.length !== t7.length) throw Error("Equal input arrays expected");
  let r7 = 1;
  for (let i7 = 0; i7 < e7.length; i7++) r7 &= e7[i7] === t7[i7];
  return !!r7;
}, writeChecksum: function(e7) {
  let t7 = 0;
  for (let r7 = 0; r7 < e7.length; r7++) t7 = t7 + e7[r7] & 65535;
  return N4.writeNumber(t7, 2);
}, printDebug: function(e7) {
  F5 && console.log("[OpenPGP.js debug]", e7);
}, printDebugError: function(e7) {
  F5 && console.error("[OpenPGP.js debug]", e7);
}, nbits: function(e7) {
  let t7 = 1, r7 = e7 >>> 16;
  return 0 !== r7 && (e7 = r7, t7 += 16), r7 = e7 >> 8, 0 !== r7 && (e7 = r7, t7 += 8), r7 = e7 >> 4, 0 !== r7 && (e7 = r7, t7 += 4), r7 = e7 >> 2, 0 !== r7 && (e7 = r7, t7 += 2), r7 = e7 >> 1, 0 !== r7 && (e7 = r7, t7 += 1), t7;
}, double: function(e7) {
  const t7 = new Uint8Array(e7.length), r7 = e7.length - 1;
  for (let i7 = 0; i7 < r7; i7++) t7[i7] = e7[i7] << 1 ^ e7[i7 + 1] >> 7;
  return t7[r7] = e7[r7] << 1 ^ 135 * (e7[0] >> 7), t7;
}, shiftRight: function(e7, t7) {
  if (t7) for (let r7 = e7.length - 1; r7 >= 0; r7--) e7[r7] >>= t7, r7 > 0 && (e7[r7] |= e7[r7 - 1] << 8 - t7);
  return e7;
}, getWebCrypto: function() {
  const t7 = void 0 !== e6 && e6.crypto && e6.crypto.subtle || this.getNodeCrypto()?.webcrypto.subtle;
  if (!t7) throw Error("The WebCrypto API is not available");
  return t7;
}, getNodeCrypto: function() {
  return this.nodeRequire("crypto");
}, getNodeZlib: function() {
  return this.nodeRequire("zlib");
}, getNodeBuffer: function() {
  return (this.nodeRequire("buffer") || {}).Buffer;
}, getHardwareConcurrency: function() {
  if ("undefined" != typeof navigator) return navigator.hardwareConcurrency || 1;
  return this.nodeRequire("os").cpus().length;
}, isEmailAddress: function(e7) {
  if (!N4.isString(e7)) return false;
  return /^[^\p{C}\p{Z}@<>\\]+@[^\p{C}\p{Z}@<>\\]+[^\p{C}\p{Z}\p{P}]$/u.test(e7);
}, canonicalizeEOL: function(e7) {
  let t7 = false;
  return b4(e7, ((e8) => {
    let r7;
    t7 && (e8 = N4.concatUint8Array([new Uint8Array([13]), e8])), 13 === e8[e8.length - 1] ? (t7 = true, e8 = e8.subarray(0, -1)) : t7 = false;
    const i7 = [];
    for (let t8 = 0; r7 = e8.indexOf(10, t8) + 1, r7; t8 = r7) 13 !== e8[r7 - 2] && i7.push(r7);
    if (!i7.length) return e8;
    const n7 = new Uint8Array(e8.length + i7.length);
    let s7 = 0;
    for (let t8 = 0; t8 < i7.length; t8++) {
      const r8 = e8.subarray(i7[t8 - 1] || 0, i7[t8]);
      n7.set(r8, s7), s7 += r8.length, n7[s7 - 1] = 13, n7[s7] = 10, s7++;
    }
    return n7.set(e8.subarray(i7[i7.length - 1] || 0), s7), n7;
  }), (() => t7 ? new Uint8Array([13]) : void 0));
}, nativeEOL: function(e7) {
  let t7 = false;
  return b4(e7, ((e8) => {
    let r7;
    13 === (e8 = t7 && 10 !== e8[0] ? N4.concatUint8Array([new Uint8Array([13]), e8]) : new Uint8Array(e8))[e8.length - 1] ? (t7 = true, e8 = e8.subarray(0, -1)) : t7 = false;
    let i7 = 0;
    for (let t8 = 0; t8 !== e8.length; t8 = r7) {
      r7 = e8.indexOf(13, t8) + 1, r7 || (r7 = e8.length);
      const n7 = r7 - (10 === e8[r7] ? 1 : 0);
      t8 && e8.copyWithin(i7, t8, n7), i7 += n7 - t8;
    }
    return e8.subarray(0, i7);
  }), (() => t7 ? new Uint8Array([13]) : void 0));
}, removeTrailingSpaces: function(e7) {
  return e7.split("\n").map(((e8) => {
    let t7 = e8.length - 1;
    for (; t7 >= 0 && (" " === e8[t7] || "	" === e8[t7] || "\r" === e8[t7]); t7--) ;
    return e8.substr(0, t7 + 1);
  })).join("\n");
}, wrapError: function(e7, t7) {
  if (!t7) return e7 instanceof Error ? e7 : Error(e7);
  if (e7 instanceof Error) {
    try {
      e7.message += ": " + t7.message, e7.cause = t7;
    } catch {
    }
    return e7;
  }
  return Error(e7 + ": " + t7.message, { cause: t7 });
}, constructAllowedPackets: function(e7) {
  const t7 = {};
  return e7.forEach(((e8) => {
    if (!e8.tag) throw Error("Invalid input: expected a packet class");
    t7[e8.tag] = e8;
  })), t7;
}, anyPromise: function(e7) {
  return new Promise(((t7, r7) => {
    let i7;
    Promise.all(e7.map((async (e8) => {
      try {
        t7(await e8);
      } catch (e9) {
        i7 = e9;
      }
    }))).then((() => {
      r7(i7);
    }));
  }));
}, selectUint8Array: function(e7, t7, r7) {
  const i7 = Math.max(t7.length, r7.length), n7 = new Uint8Array(i7);
  let s7 = 0;
  for (let i8 = 0; i8 < n7.length; i8++) n7[i8] = t7[i8] & 256 - e7 | r7[i8] & 255 + e7, s7 += e7 & i8 < t7.length | 1 - e7 & i8 < r7.length;
  return n7.subarray(0, s7);
}, selectUint8: function(e7, t7, r7) {
  return t7 & 256 - e7 | r7 & 255 + e7;
}, isAES: function(e7) {
  return e7 === M6.symmetric.aes128 || e7 === M6.symmetric.aes192 || e7 === M6.symmetric.aes256;
} };
var z5 = N4.getNodeBuffer();
var R5;
var O4;
function j5(e7) {
  let t7 = new Uint8Array();
  return b4(e7, ((e8) => {
    t7 = N4.concatUint8Array([t7, e8]);
    const r7 = [], i7 = Math.floor(t7.length / 45), n7 = 45 * i7, s7 = R5(t7.subarray(0, n7));
    for (let e9 = 0; e9 < i7; e9++) r7.push(s7.substr(60 * e9, 60)), r7.push("\n");
    return t7 = t7.subarray(n7), r7.join("");
  }), (() => t7.length ? R5(t7) + "\n" : ""));
}
function H5(e7) {
  let t7 = "";
  return b4(e7, ((e8) => {
    t7 += e8;
    let r7 = 0;
    const i7 = [" ", "	", "\r", "\n"];
    for (let e9 = 0; e9 < i7.length; e9++) {
      const n8 = i7[e9];
      for (let e10 = t7.indexOf(n8); -1 !== e10; e10 = t7.indexOf(n8, e10 + 1)) r7++;
    }
    let n7 = t7.length;
    for (; n7 > 0 && (n7 - r7) % 4 != 0; n7--) i7.includes(t7[n7]) && r7--;
    const s7 = O4(t7.substr(0, n7));
    return t7 = t7.substr(n7), s7;
  }), (() => O4(t7)));
}
function G5(e7) {
  return H5(e7.replace(/-/g, "+").replace(/_/g, "/"));
}
function q5(e7, t7) {
  let r7 = j5(e7).replace(/[\r\n]/g, "");
  return r7 = r7.replace(/[+]/g, "-").replace(/[/]/g, "_").replace(/[=]/g, ""), r7;
}
function _4(e7) {
  const t7 = e7.match(/^-----BEGIN PGP (MESSAGE, PART \d+\/\d+|MESSAGE, PART \d+|SIGNED MESSAGE|MESSAGE|PUBLIC KEY BLOCK|PRIVATE KEY BLOCK|SIGNATURE)-----$/m);
  if (!t7) throw Error("Unknown ASCII armor type");
  return /MESSAGE, PART \d+\/\d+/.test(t7[1]) ? M6.armor.multipartSection : /MESSAGE, PART \d+/.test(t7[1]) ? M6.armor.multipartLast : /SIGNED MESSAGE/.test(t7[1]) ? M6.armor.signed : /MESSAGE/.test(t7[1]) ? M6.armor.message : /PUBLIC KEY BLOCK/.test(t7[1]) ? M6.armor.publicKey : /PRIVATE KEY BLOCK/.test(t7[1]) ? M6.armor.privateKey : /SIGNATURE/.test(t7[1]) ? M6.armor.signature : void 0;
}
function W3(e7, t7) {
  let r7 = "";
  return t7.showVersion && (r7 += "Version: " + t7.versionString + "\n"), t7.showComment && (r7 += "Comment: " + t7.commentString + "\n"), e7 && (r7 += "Comment: " + e7 + "\n"), r7 += "\n", r7;
}
function V4(e7) {
  const t7 = (function(e8) {
    let t8 = 13501623;
    return b4(e8, ((e9) => {
      const r7 = X3 ? Math.floor(e9.length / 4) : 0, i7 = new Uint32Array(e9.buffer, e9.byteOffset, r7);
      for (let e10 = 0; e10 < r7; e10++) t8 ^= i7[e10], t8 = $3[0][t8 >> 24 & 255] ^ $3[1][t8 >> 16 & 255] ^ $3[2][t8 >> 8 & 255] ^ $3[3][255 & t8];
      for (let i8 = 4 * r7; i8 < e9.length; i8++) t8 = t8 >> 8 ^ $3[0][255 & t8 ^ e9[i8]];
    }), (() => new Uint8Array([t8, t8 >> 8, t8 >> 16])));
  })(e7);
  return j5(t7);
}
z5 ? (R5 = (e7) => z5.from(e7).toString("base64"), O4 = (e7) => {
  const t7 = z5.from(e7, "base64");
  return new Uint8Array(t7.buffer, t7.byteOffset, t7.byteLength);
}) : (R5 = (e7) => btoa(N4.uint8ArrayToString(e7)), O4 = (e7) => N4.stringToUint8Array(atob(e7)));
var $3 = [Array(255), Array(255), Array(255), Array(255)];
for (let e7 = 0; e7 <= 255; e7++) {
  let t7 = e7 << 16;
  for (let e8 = 0; e8 < 8; e8++) t7 = t7 << 1 ^ (8388608 & t7 ? 8801531 : 0);
  $3[0][e7] = (16711680 & t7) >> 16 | 65280 & t7 | (255 & t7) << 16;
}
for (let e7 = 0; e7 <= 255; e7++) $3[1][e7] = $3[0][e7] >> 8 ^ $3[0][255 & $3[0][e7]];
for (let e7 = 0; e7 <= 255; e7++) $3[2][e7] = $3[1][e7] >> 8 ^ $3[0][255 & $3[1][e7]];
for (let e7 = 0; e7 <= 255; e7++) $3[3][e7] = $3[2][e7] >> 8 ^ $3[0][255 & $3[2][e7]];
var X3 = (function() {
  const e7 = new ArrayBuffer(2);
  return new DataView(e7).setInt16(0, 255, true), 255 === new Int16Array(e7)[0];
})();
function Q4(e7) {
  for (let t7 = 0; t7 < e7.length; t7++) /^([^\s:]|[^\s:][^:]*[^\s:]): .+$/.test(e7[t7]) || N4.printDebugError(Error("Improperly formatted armor header: " + e7[t7])), /^(Version|Comment|MessageID|Hash|Charset): .+$/.test(e7[t7]) || N4.printDebugError(Error("Unknown header: " + e7[t7]));
}
function Y3(e7) {
  let t7 = e7;
  const r7 = e7.lastIndexOf("=");
  return r7 >= 0 && r7 !== e7.length - 1 && (t7 = e7.slice(0, r7)), t7;
}
function Z3(e7) {
  return new Promise(((t7, r7) => {
    try {
      const i7 = /^-----[^-]+-----$/m, n7 = /^[ \f\r\t\u00a0\u2000-\u200a\u202f\u205f\u3000]*$/;
      let s7;
      const a7 = [];
      let o7, c6, u7 = a7, h6 = [];
      const y7 = H5(A6(e7, (async (e8, l5) => {
        const p4 = C6(e8);
        try {
          for (; ; ) {
            let e9 = await p4.readLine();
            if (void 0 === e9) throw Error("Misformed armored text");
            if (e9 = N4.removeTrailingSpaces(e9.replace(/[\r\n]/g, "")), s7) if (o7) c6 || s7 !== M6.armor.signed || (i7.test(e9) ? (h6 = h6.join("\r\n"), c6 = true, Q4(u7), u7 = [], o7 = false) : h6.push(e9.replace(/^- /, "")));
            else if (i7.test(e9) && r7(Error("Mandatory blank line missing between armor headers and armor data")), n7.test(e9)) {
              if (Q4(u7), o7 = true, c6 || s7 !== M6.armor.signed) {
                t7({ text: h6, data: y7, headers: a7, type: s7 });
                break;
              }
            } else u7.push(e9);
            else i7.test(e9) && (s7 = _4(e9));
          }
        } catch (e9) {
          return void r7(e9);
        }
        const g6 = B5(l5);
        try {
          for (; ; ) {
            await g6.ready;
            const { done: e9, value: t8 } = await p4.read();
            if (e9) throw Error("Misformed armored text");
            const r8 = t8 + "";
            if (-1 !== r8.indexOf("=") || -1 !== r8.indexOf("-")) {
              let e10 = await p4.readToEnd();
              e10.length || (e10 = ""), e10 = r8 + e10, e10 = N4.removeTrailingSpaces(e10.replace(/\r/g, ""));
              const t9 = e10.split(i7);
              if (1 === t9.length) throw Error("Misformed armored text");
              const n8 = Y3(t9[0].slice(0, -1));
              await g6.write(n8);
              break;
            }
            await g6.write(r8);
          }
          await g6.ready, await g6.close();
        } catch (e9) {
          await g6.abort(e9);
        }
      })));
    } catch (e8) {
      r7(e8);
    }
  })).then((async (e8) => (a6(e8.data) && (e8.data = await D6(e8.data)), e8)));
}
function J4(e7, t7, r7, i7, n7, s7 = false, a7 = L3) {
  let o7, c6;
  e7 === M6.armor.signed && (o7 = t7.text, c6 = t7.hash, t7 = t7.data);
  const u7 = s7 && S5(t7), h6 = [];
  switch (e7) {
    case M6.armor.multipartSection:
      h6.push("-----BEGIN PGP MESSAGE, PART " + r7 + "/" + i7 + "-----\n"), h6.push(W3(n7, a7)), h6.push(j5(t7)), u7 && h6.push("=", V4(u7)), h6.push("-----END PGP MESSAGE, PART " + r7 + "/" + i7 + "-----\n");
      break;
    case M6.armor.multipartLast:
      h6.push("-----BEGIN PGP MESSAGE, PART " + r7 + "-----\n"), h6.push(W3(n7, a7)), h6.push(j5(t7)), u7 && h6.push("=", V4(u7)), h6.push("-----END PGP MESSAGE, PART " + r7 + "-----\n");
      break;
    case M6.armor.signed:
      h6.push("-----BEGIN PGP SIGNED MESSAGE-----\n"), h6.push(c6 ? `Hash: ${c6}

` : "\n"), h6.push(o7.replace(/^-/gm, "- -")), h6.push("\n-----BEGIN PGP SIGNATURE-----\n"), h6.push(W3(n7, a7)), h6.push(j5(t7)), u7 && h6.push("=", V4(u7)), h6.push("-----END PGP SIGNATURE-----\n");
      break;
    case M6.armor.message:
      h6.push("-----BEGIN PGP MESSAGE-----\n"), h6.push(W3(n7, a7)), h6.push(j5(t7)), u7 && h6.push("=", V4(u7)), h6.push("-----END PGP MESSAGE-----\n");
      break;
    case M6.armor.publicKey:
      h6.push("-----BEGIN PGP PUBLIC KEY BLOCK-----\n"), h6.push(W3(n7, a7)), h6.push(j5(t7)), u7 && h6.push("=", V4(u7)), h6.push("-----END PGP PUBLIC KEY BLOCK-----\n");
      break;
    case M6.armor.privateKey:
      h6.push("-----BEGIN PGP PRIVATE KEY BLOCK-----\n"), h6.push(W3(n7, a7)), h6.push(j5(t7)), u7 && h6.push("=", V4(u7)), h6.push("-----END PGP PRIVATE KEY BLOCK-----\n");
      break;
    case M6.armor.signature:
      h6.push("-----BEGIN PGP SIGNATURE-----\n"), h6.push(W3(n7, a7)), h6.push(j5(t7)), u7 && h6.push("=", V4(u7)), h6.push("-----END PGP SIGNATURE-----\n");
  }
  return N4.concat(h6);
}
var ee2 = BigInt(0);
var te2 = BigInt(1);
function re2(e7) {
  const t7 = "0123456789ABCDEF";
  let r7 = "";
  return e7.forEach(((e8) => {
    r7 += t7[e8 >> 4] + t7[15 & e8];
  })), BigInt("0x0" + r7);
}
function ie2(e7, t7) {
  const r7 = e7 % t7;
  return r7 < ee2 ? r7 + t7 : r7;
}
function ne2(e7, t7, r7) {
  const i7 = -e7;
  return t7 & i7 | r7 & ~i7;
}
function se2(e7, t7, r7) {
  if (r7 === ee2) throw Error("Modulo cannot be zero");
  if (r7 === te2) return BigInt(0);
  if (t7 < ee2) throw Error("Unsopported negative exponent");
  let i7 = t7, n7 = e7;
  n7 %= r7;
  let s7 = BigInt(1);
  for (; i7 > ee2; ) {
    const e8 = i7 & te2;
    i7 >>= te2;
    s7 = ne2(e8, s7 * n7 % r7, s7), n7 = n7 * n7 % r7;
  }
  return s7;
}
function ae2(e7) {
  return e7 >= ee2 ? e7 : -e7;
}
function oe2(e7, t7) {
  const { gcd: r7, x: i7 } = (function(e8, t8) {
    let r8 = BigInt(0), i8 = BigInt(1), n7 = BigInt(1), s7 = BigInt(0), a7 = ae2(e8), o7 = ae2(t8);
    const c6 = e8 < ee2, u7 = t8 < ee2;
    for (; o7 !== ee2; ) {
      const e9 = a7 / o7;
      let t9 = r8;
      r8 = n7 - e9 * r8, n7 = t9, t9 = i8, i8 = s7 - e9 * i8, s7 = t9, t9 = o7, o7 = a7 % o7, a7 = t9;
    }
    return { x: c6 ? -n7 : n7, y: u7 ? -s7 : s7, gcd: a7 };
  })(e7, t7);
  if (r7 !== te2) throw Error("Inverse does not exist");
  return ie2(i7 + t7, t7);
}
function ce2(e7) {
  const t7 = Number(e7);
  if (t7 > Number.MAX_SAFE_INTEGER) throw Error("Number can only safely store up to 53 bits");
  return t7;
}
function ue2(e7, t7) {
  return (e7 >> BigInt(t7) & te2) === ee2 ? 0 : 1;
}
function he2(e7) {
  const t7 = e7 < ee2 ? BigInt(-1) : ee2;
  let r7 = 1, i7 = e7;
  for (; (i7 >>= te2) !== t7; ) r7++;
  return r7;
}
function ye2(e7) {
  const t7 = e7 < ee2 ? BigInt(-1) : ee2, r7 = BigInt(8);
  let i7 = 1, n7 = e7;
  for (; (n7 >>= r7) !== t7; ) i7++;
  return i7;
}
function le2(e7, t7 = "be", r7) {
  let i7 = e7.toString(16);
  i7.length % 2 == 1 && (i7 = "0" + i7);
  const n7 = i7.length / 2, s7 = new Uint8Array(r7 || n7), a7 = r7 ? r7 - n7 : 0;
  let o7 = 0;
  for (; o7 < n7; ) s7[o7 + a7] = parseInt(i7.slice(2 * o7, 2 * o7 + 2), 16), o7++;
  return "be" !== t7 && s7.reverse(), s7;
}
var pe2 = N4.getNodeCrypto();
function ge2(e7) {
  const t7 = "undefined" != typeof crypto ? crypto : pe2?.webcrypto;
  if (t7?.getRandomValues) {
    const r7 = new Uint8Array(e7);
    return t7.getRandomValues(r7);
  }
  throw Error("No secure random number generator available.");
}
function de2(e7, t7) {
  if (t7 < e7) throw Error("Illegal parameter value: max <= min");
  const r7 = t7 - e7;
  return ie2(re2(ge2(ye2(r7) + 8)), r7) + e7;
}
var fe2 = BigInt(1);
function me2(e7, t7, r7) {
  const i7 = BigInt(30), n7 = fe2 << BigInt(e7 - 1), s7 = [1, 6, 5, 4, 3, 2, 1, 4, 3, 2, 1, 2, 1, 4, 3, 2, 1, 2, 1, 4, 3, 2, 1, 6, 5, 4, 3, 2, 1, 2];
  let a7 = de2(n7, n7 << fe2), o7 = ce2(ie2(a7, i7));
  do {
    a7 += BigInt(s7[o7]), o7 = (o7 + s7[o7]) % s7.length, he2(a7) > e7 && (a7 = ie2(a7, n7 << fe2), a7 += n7, o7 = ce2(ie2(a7, i7)));
  } while (!we2(a7, t7, r7));
  return a7;
}
function we2(e7, t7, r7) {
  return (!t7 || (function(e8, t8) {
    let r8 = e8, i7 = t8;
    for (; i7 !== ee2; ) {
      const e9 = i7;
      i7 = r8 % i7, r8 = e9;
    }
    return r8;
  })(e7 - fe2, t7) === fe2) && (!!(function(e8) {
    const t8 = BigInt(0);
    return be2.every(((r8) => ie2(e8, r8) !== t8));
  })(e7) && (!!(function(e8, t8 = BigInt(2)) {
    return se2(t8, e8 - fe2, e8) === fe2;
  })(e7) && !!(function(e8, t8) {
    const r8 = he2(e8);
    t8 || (t8 = Math.max(1, r8 / 48 | 0));
    const i7 = e8 - fe2;
    let n7 = 0;
    for (; !ue2(i7, n7); ) n7++;
    const s7 = e8 >> BigInt(n7);
    for (; t8 > 0; t8--) {
      let t9, r9 = se2(de2(BigInt(2), i7), s7, e8);
      if (r9 !== fe2 && r9 !== i7) {
        for (t9 = 1; t9 < n7; t9++) {
          if (r9 = ie2(r9 * r9, e8), r9 === fe2) return false;
          if (r9 === i7) break;
        }
        if (t9 === n7) return false;
      }
    }
    return true;
  })(e7, r7)));
}
var be2 = [7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167, 173, 179, 181, 191, 193, 197, 199, 211, 223, 227, 229, 233, 239, 241, 251, 257, 263, 269, 271, 277, 281, 283, 293, 307, 311, 313, 317, 331, 337, 347, 349, 353, 359, 367, 373, 379, 383, 389, 397, 401, 409, 419, 421, 431, 433, 439, 443, 449, 457, 461, 463, 467, 479, 487, 491, 499, 503, 509, 521, 523, 541, 547, 557, 563, 569, 571, 577, 587, 593, 599, 601, 607, 613, 617, 619, 631, 641, 643, 647, 653, 659, 661, 673, 677, 683, 691, 701, 709, 719, 727, 733, 739, 743, 751, 757, 761, 769, 773, 787, 797, 809, 811, 821, 823, 827, 829, 839, 853, 857, 859, 863, 877, 881, 883, 887, 907, 911, 919, 929, 937, 941, 947, 953, 967, 971, 977, 983, 991, 997, 1009, 1013, 1019, 1021, 1031, 1033, 1039, 1049, 1051, 1061, 1063, 1069, 1087, 1091, 1093, 1097, 1103, 1109, 1117, 1123, 1129, 1151, 1153, 1163, 1171, 1181, 1187, 1193, 1201, 1213, 1217, 1223, 1229, 1231, 1237, 1249, 1259, 1277, 1279, 1283, 1289, 1291, 1297, 1301, 1303, 1307, 1319, 1321, 1327, 1361, 1367, 1373, 1381, 1399, 1409, 1423, 1427, 1429, 1433, 1439, 1447, 1451, 1453, 1459, 1471, 1481, 1483, 1487, 1489, 1493, 1499, 1511, 1523, 1531, 1543, 1549, 1553, 1559, 1567, 1571, 1579, 1583, 1597, 1601, 1607, 1609, 1613, 1619, 1621, 1627, 1637, 1657, 1663, 1667, 1669, 1693, 1697, 1699, 1709, 1721, 1723, 1733, 1741, 1747, 1753, 1759, 1777, 1783, 1787, 1789, 1801, 1811, 1823, 1831, 1847, 1861, 1867, 1871, 1873, 1877, 1879, 1889, 1901, 1907, 1913, 1931, 1933, 1949, 1951, 1973, 1979, 1987, 1993, 1997, 1999, 2003, 2011, 2017, 2027, 2029, 2039, 2053, 2063, 2069, 2081, 2083, 2087, 2089, 2099, 2111, 2113, 2129, 2131, 2137, 2141, 2143, 2153, 2161, 2179, 2203, 2207, 2213, 2221, 2237, 2239, 2243, 2251, 2267, 2269, 2273, 2281, 2287, 2293, 2297, 2309, 2311, 2333, 2339, 2341, 2347, 2351, 2357, 2371, 2377, 2381, 2383, 2389, 2393, 2399, 2411, 2417, 2423, 2437, 2441, 2447, 2459, 2467, 2473, 2477, 2503, 2521, 2531, 2539, 2543, 2549, 2551, 2557, 2579, 2591, 2593, 2609, 2617, 2621, 2633, 2647, 2657, 2659, 2663, 2671, 2677, 2683, 2687, 2689, 2693, 2699, 2707, 2711, 2713, 2719, 2729, 2731, 2741, 2749, 2753, 2767, 2777, 2789, 2791, 2797, 2801, 2803, 2819, 2833, 2837, 2843, 2851, 2857, 2861, 2879, 2887, 2897, 2903, 2909, 2917, 2927, 2939, 2953, 2957, 2963, 2969, 2971, 2999, 3001, 3011, 3019, 3023, 3037, 3041, 3049, 3061, 3067, 3079, 3083, 3089, 3109, 3119, 3121, 3137, 3163, 3167, 3169, 3181, 3187, 3191, 3203, 3209, 3217, 3221, 3229, 3251, 3253, 3257, 3259, 3271, 3299, 3301, 3307, 3313, 3319, 3323, 3329, 3331, 3343, 3347, 3359, 3361, 3371, 3373, 3389, 3391, 3407, 3413, 3433, 3449, 3457, 3461, 3463, 3467, 3469, 3491, 3499, 3511, 3517, 3527, 3529, 3533, 3539, 3541, 3547, 3557, 3559, 3571, 3581, 3583, 3593, 3607, 3613, 3617, 3623, 3631, 3637, 3643, 3659, 3671, 3673, 3677, 3691, 3697, 3701, 3709, 3719, 3727, 3733, 3739, 3761, 3767, 3769, 3779, 3793, 3797, 3803, 3821, 3823, 3833, 3847, 3851, 3853, 3863, 3877, 3881, 3889, 3907, 3911, 3917, 3919, 3923, 3929, 3931, 3943, 3947, 3967, 3989, 4001, 4003, 4007, 4013, 4019, 4021, 4027, 4049, 4051, 4057, 4073, 4079, 4091, 4093, 4099, 4111, 4127, 4129, 4133, 4139, 4153, 4157, 4159, 4177, 4201, 4211, 4217, 4219, 4229, 4231, 4241, 4243, 4253, 4259, 4261, 4271, 4273, 4283, 4289, 4297, 4327, 4337, 4339, 4349, 4357, 4363, 4373, 4391, 4397, 4409, 4421, 4423, 4441, 4447, 4451, 4457, 4463, 4481, 4483, 4493, 4507, 4513, 4517, 4519, 4523, 4547, 4549, 4561, 4567, 4583, 4591, 4597, 4603, 4621, 4637, 4639, 4643, 4649, 4651, 4657, 4663, 4673, 4679, 4691, 4703, 4721, 4723, 4729, 4733, 4751, 4759, 4783, 4787, 4789, 4793, 4799, 4801, 4813, 4817, 4831, 4861, 4871, 4877, 4889, 4903, 4909, 4919, 4931, 4933, 4937, 4943, 4951, 4957, 4967, 4969, 4973, 4987, 4993, 4999].map(((e7) => BigInt(e7)));
var ke2 = N4.getWebCrypto();
var ve2 = N4.getNodeCrypto();
var Ae2 = ve2 && ve2.getHashes();
function Ke2(e7) {
  if (ve2 && Ae2.includes(e7)) return async function(t7) {
    const r7 = ve2.createHash(e7);
    return b4(t7, ((e8) => {
      r7.update(e8);
    }), (() => new Uint8Array(r7.digest())));
  };
}
function Ee2(e7, t7) {
  const r7 = async () => {
    const { nobleHashes: t8 } = await Promise.resolve().then(() => (init_noble_hashes_min(), noble_hashes_min_exports)), r8 = t8.get(e7);
    if (!r8) throw Error("Unsupported hash");
    return r8;
  };
  return async function(e8) {
    if (a6(e8) && (e8 = await D6(e8)), N4.isStream(e8)) {
      const t8 = (await r7()).create();
      return b4(e8, ((e9) => {
        t8.update(e9);
      }), (() => t8.digest()));
    }
    if (ke2 && t7) return new Uint8Array(await ke2.digest(t7, e8));
    return (await r7())(e8);
  };
}
var Se2 = Ke2("md5") || Ee2("md5");
var Pe2 = Ke2("sha1") || Ee2("sha1", "SHA-1");
var Ue2 = Ke2("sha224") || Ee2("sha224");
var De = Ke2("sha256") || Ee2("sha256", "SHA-256");
var xe2 = Ke2("sha384") || Ee2("sha384", "SHA-384");
var Ie2 = Ke2("sha512") || Ee2("sha512", "SHA-512");
var Ce2 = Ke2("ripemd160") || Ee2("ripemd160");
var Be2 = Ke2("sha3-256") || Ee2("sha3_256");
var Te2 = Ke2("sha3-512") || Ee2("sha3_512");
function Me(e7, t7) {
  switch (e7) {
    case M6.hash.md5:
      return Se2(t7);
    case M6.hash.sha1:
      return Pe2(t7);
    case M6.hash.ripemd:
      return Ce2(t7);
    case M6.hash.sha256:
      return De(t7);
    case M6.hash.sha384:
      return xe2(t7);
    case M6.hash.sha512:
      return Ie2(t7);
    case M6.hash.sha224:
      return Ue2(t7);
    case M6.hash.sha3_256:
      return Be2(t7);
    case M6.hash.sha3_512:
      return Te2(t7);
    default:
      throw Error("Unsupported hash function");
  }
}
function Le(e7) {
  switch (e7) {
    case M6.hash.md5:
      return 16;
    case M6.hash.sha1:
    case M6.hash.ripemd:
      return 20;
    case M6.hash.sha256:
      return 32;
    case M6.hash.sha384:
      return 48;
    case M6.hash.sha512:
      return 64;
    case M6.hash.sha224:
      return 28;
    case M6.hash.sha3_256:
      return 32;
    case M6.hash.sha3_512:
      return 64;
    default:
      throw Error("Invalid hash algorithm.");
  }
}
var Fe2 = [];
function Ne2(e7, t7) {
  const r7 = e7.length;
  if (r7 > t7 - 11) throw Error("Message too long");
  const i7 = (function(e8) {
    const t8 = new Uint8Array(e8);
    let r8 = 0;
    for (; r8 < e8; ) {
      const i8 = ge2(e8 - r8);
      for (let e9 = 0; e9 < i8.length; e9++) 0 !== i8[e9] && (t8[r8++] = i8[e9]);
    }
    return t8;
  })(t7 - r7 - 3), n7 = new Uint8Array(t7);
  return n7[1] = 2, n7.set(i7, 2), n7.set(e7, t7 - r7), n7;
}
function ze(e7, t7) {
  let r7 = 2, i7 = 1;
  for (let t8 = r7; t8 < e7.length; t8++) i7 &= 0 !== e7[t8], r7 += i7;
  const n7 = r7 - 2, s7 = e7.subarray(r7 + 1), a7 = 0 === e7[0] & 2 === e7[1] & n7 >= 8 & !i7;
  if (t7) return N4.selectUint8Array(a7, s7, t7);
  if (a7) return s7;
  throw Error("Decryption error");
}
function Re2(e7, t7, r7) {
  let i7;
  if (t7.length !== Le(e7)) throw Error("Invalid hash length");
  const n7 = new Uint8Array(Fe2[e7].length);
  for (i7 = 0; i7 < Fe2[e7].length; i7++) n7[i7] = Fe2[e7][i7];
  const s7 = n7.length + t7.length;
  if (r7 < s7 + 11) throw Error("Intended encoded message length too short");
  const a7 = new Uint8Array(r7 - s7 - 3).fill(255), o7 = new Uint8Array(r7);
  return o7[1] = 1, o7.set(a7, 2), o7.set(n7, r7 - s7), o7.set(t7, r7 - t7.length), o7;
}
Fe2[1] = [48, 32, 48, 12, 6, 8, 42, 134, 72, 134, 247, 13, 2, 5, 5, 0, 4, 16], Fe2[2] = [48, 33, 48, 9, 6, 5, 43, 14, 3, 2, 26, 5, 0, 4, 20], Fe2[3] = [48, 33, 48, 9, 6, 5, 43, 36, 3, 2, 1, 5, 0, 4, 20], Fe2[8] = [48, 49, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2, 1, 5, 0, 4, 32], Fe2[9] = [48, 65, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2, 2, 5, 0, 4, 48], Fe2[10] = [48, 81, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2, 3, 5, 0, 4, 64], Fe2[11] = [48, 45, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2, 4, 5, 0, 4, 28], Fe2[12] = [48, 49, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2, 8, 5, 0, 4, 32], Fe2[14] = [48, 81, 48, 13, 6, 9, 96, 134, 72, 1, 101, 3, 4, 2, 10, 5, 0, 4, 64];
var Oe2 = N4.getWebCrypto();
var je = N4.getNodeCrypto();
var He = BigInt(1);
async function Ge(e7, t7, r7, i7, n7, s7, a7, o7, c6) {
  if (Le(e7) >= r7.length) throw Error("Digest size cannot exceed key modulus size");
  if (t7 && !N4.isStream(t7)) {
    if (N4.getWebCrypto()) try {
      return await (async function(e8, t8, r8, i8, n8, s8, a8, o8) {
        const c7 = Ve2(r8, i8, n8, s8, a8, o8), u7 = { name: "RSASSA-PKCS1-v1_5", hash: { name: e8 } }, h6 = await Oe2.importKey("jwk", c7, u7, false, ["sign"]);
        return new Uint8Array(await Oe2.sign("RSASSA-PKCS1-v1_5", h6, t8));
      })(M6.read(M6.webHash, e7), t7, r7, i7, n7, s7, a7, o7);
    } catch (e8) {
      N4.printDebugError(e8);
    }
    else if (N4.getNodeCrypto()) return (function(e8, t8, r8, i8, n8, s8, a8, o8) {
      const c7 = je.createSign(M6.read(M6.hash, e8));
      c7.write(t8), c7.end();
      const u7 = Ve2(r8, i8, n8, s8, a8, o8);
      return new Uint8Array(c7.sign({ key: u7, format: "jwk", type: "pkcs1" }));
    })(e7, t7, r7, i7, n7, s7, a7, o7);
  }
  return (function(e8, t8, r8, i8) {
    t8 = re2(t8);
    const n8 = re2(Re2(e8, i8, ye2(t8)));
    return r8 = re2(r8), le2(se2(n8, r8, t8), "be", ye2(t8));
  })(e7, r7, n7, c6);
}
async function qe2(e7, t7, r7, i7, n7, s7) {
  if (t7 && !N4.isStream(t7)) {
    if (N4.getWebCrypto()) try {
      return await (async function(e8, t8, r8, i8, n8) {
        const s8 = $e(i8, n8), a7 = await Oe2.importKey("jwk", s8, { name: "RSASSA-PKCS1-v1_5", hash: { name: e8 } }, false, ["verify"]);
        return Oe2.verify("RSASSA-PKCS1-v1_5", a7, r8, t8);
      })(M6.read(M6.webHash, e7), t7, r7, i7, n7);
    } catch (e8) {
      N4.printDebugError(e8);
    }
    else if (N4.getNodeCrypto()) return (function(e8, t8, r8, i8, n8) {
      const s8 = $e(i8, n8), a7 = { key: s8, format: "jwk", type: "pkcs1" }, o7 = je.createVerify(M6.read(M6.hash, e8));
      o7.write(t8), o7.end();
      try {
        return o7.verify(a7, r8);
      } catch {
        return false;
      }
    })(e7, t7, r7, i7, n7);
  }
  return (function(e8, t8, r8, i8, n8) {
    if (r8 = re2(r8), t8 = re2(t8), i8 = re2(i8), t8 >= r8) throw Error("Signature size cannot exceed modulus size");
    const s8 = le2(se2(t8, i8, r8), "be", ye2(r8)), a7 = Re2(e8, n8, ye2(r8));
    return N4.equalsUint8Array(s8, a7);
  })(e7, r7, i7, n7, s7);
}
async function _e(e7, t7, r7) {
  return N4.getNodeCrypto() ? (function(e8, t8, r8) {
    const i7 = $e(t8, r8), n7 = { key: i7, format: "jwk", type: "pkcs1", padding: je.constants.RSA_PKCS1_PADDING };
    return new Uint8Array(je.publicEncrypt(n7, e8));
  })(e7, t7, r7) : (function(e8, t8, r8) {
    if (t8 = re2(t8), e8 = re2(Ne2(e8, ye2(t8))), r8 = re2(r8), e8 >= t8) throw Error("Message size cannot exceed modulus size");
    return le2(se2(e8, r8, t8), "be", ye2(t8));
  })(e7, t7, r7);
}
async function We(e7, t7, r7, i7, n7, s7, a7, o7) {
  if (N4.getNodeCrypto() && !o7) try {
    return (function(e8, t8, r8, i8, n8, s8, a8) {
      const o8 = Ve2(t8, r8, i8, n8, s8, a8), c6 = { key: o8, format: "jwk", type: "pkcs1", padding: je.constants.RSA_PKCS1_PADDING };
      try {
        return new Uint8Array(je.privateDecrypt(c6, e8));
      } catch {
        throw Error("Decryption error");
      }
    })(e7, t7, r7, i7, n7, s7, a7);
  } catch (e8) {
    N4.printDebugError(e8);
  }
  return (function(e8, t8, r8, i8, n8, s8, a8, o8) {
    if (e8 = re2(e8), t8 = re2(t8), r8 = re2(r8), i8 = re2(i8), n8 = re2(n8), s8 = re2(s8), a8 = re2(a8), e8 >= t8) throw Error("Data too large.");
    const c6 = ie2(i8, s8 - He), u7 = ie2(i8, n8 - He), h6 = de2(BigInt(2), t8), y7 = se2(oe2(h6, t8), r8, t8);
    e8 = ie2(e8 * y7, t8);
    const l5 = se2(e8, u7, n8), p4 = se2(e8, c6, s8), g6 = ie2(a8 * (p4 - l5), s8);
    let d5 = g6 * n8 + l5;
    return d5 = ie2(d5 * h6, t8), ze(le2(d5, "be", ye2(t8)), o8);
  })(e7, t7, r7, i7, n7, s7, a7, o7);
}
function Ve2(e7, t7, r7, i7, n7, s7) {
  const a7 = re2(i7), o7 = re2(n7), c6 = re2(r7);
  let u7 = ie2(c6, o7 - He), h6 = ie2(c6, a7 - He);
  return h6 = le2(h6), u7 = le2(u7), { kty: "RSA", n: q5(e7), e: q5(t7), d: q5(r7), p: q5(n7), q: q5(i7), dp: q5(u7), dq: q5(h6), qi: q5(s7), ext: true };
}
function $e(e7, t7) {
  return { kty: "RSA", n: q5(e7), e: q5(t7), ext: true };
}
function Xe(e7, t7) {
  return { n: G5(e7.n), e: le2(t7), d: G5(e7.d), p: G5(e7.q), q: G5(e7.p), u: G5(e7.qi) };
}
var Qe = BigInt(1);
var Ye = { "2a8648ce3d030107": M6.curve.nistP256, "2b81040022": M6.curve.nistP384, "2b81040023": M6.curve.nistP521, "2b8104000a": M6.curve.secp256k1, "2b06010401da470f01": M6.curve.ed25519Legacy, "2b060104019755010501": M6.curve.curve25519Legacy, "2b2403030208010107": M6.curve.brainpoolP256r1, "2b240303020801010b": M6.curve.brainpoolP384r1, "2b240303020801010d": M6.curve.brainpoolP512r1 };
var Ze2 = class _Ze {
  constructor(e7) {
    if (e7 instanceof _Ze) this.oid = e7.oid;
    else if (N4.isArray(e7) || N4.isUint8Array(e7)) {
      if (6 === (e7 = new Uint8Array(e7))[0]) {
        if (e7[1] !== e7.length - 2) throw Error("Length mismatch in DER encoded oid");
        e7 = e7.subarray(2);
      }
      this.oid = e7;
    } else this.oid = "";
  }
  read(e7) {
    if (e7.length >= 1) {
      const t7 = e7[0];
      if (e7.length >= 1 + t7) return this.oid = e7.subarray(1, 1 + t7), 1 + this.oid.length;
    }
    throw Error("Invalid oid");
  }
  write() {
    return N4.concatUint8Array([new Uint8Array([this.oid.length]), this.oid]);
  }
  toHex() {
    return N4.uint8ArrayToHex(this.oid);
  }
  getName() {
    const e7 = Ye[this.toHex()];
    if (!e7) throw Error("Unknown curve object identifier.");
    return e7;
  }
};
function Je(e7) {
  let t7, r7 = 0;
  const i7 = e7[0];
  return i7 < 192 ? ([r7] = e7, t7 = 1) : i7 < 255 ? (r7 = (e7[0] - 192 << 8) + e7[1] + 192, t7 = 2) : 255 === i7 && (r7 = N4.readNumber(e7.subarray(1, 5)), t7 = 5), { len: r7, offset: t7 };
}
function et3(e7) {
  return e7 < 192 ? new Uint8Array([e7]) : e7 > 191 && e7 < 8384 ? new Uint8Array([192 + (e7 - 192 >> 8), e7 - 192 & 255]) : N4.concatUint8Array([new Uint8Array([255]), N4.writeNumber(e7, 4)]);
}
function tt3(e7) {
  if (e7 < 0 || e7 > 30) throw Error("Partial Length power must be between 1 and 30");
  return new Uint8Array([224 + e7]);
}
function rt3(e7) {
  return new Uint8Array([192 | e7]);
}
function it3(e7, t7) {
  return N4.concatUint8Array([rt3(e7), et3(t7)]);
}
function nt3(e7) {
  return [M6.packet.literalData, M6.packet.compressedData, M6.packet.symmetricallyEncryptedData, M6.packet.symEncryptedIntegrityProtectedData, M6.packet.aeadEncryptedData].includes(e7);
}
async function st3(e7, t7, r7) {
  let i7, n7;
  try {
    const a7 = await e7.peekBytes(2);
    if (!a7 || a7.length < 2 || !(128 & a7[0])) throw Error("Error during parsing. This message / key probably does not conform to a valid OpenPGP format.");
    const o7 = await e7.readByte();
    let c6, u7, h6 = -1, y7 = -1;
    y7 = 0, 64 & o7 && (y7 = 1), y7 ? h6 = 63 & o7 : (h6 = (63 & o7) >> 2, u7 = 3 & o7);
    const l5 = nt3(h6);
    let p4, g6 = null;
    if (t7 && l5) {
      if ("array" === t7) {
        const e8 = new s6();
        i7 = B5(e8), g6 = e8;
      } else {
        const e8 = new TransformStream();
        i7 = B5(e8.writable), g6 = e8.readable;
      }
      n7 = r7({ tag: h6, packet: g6 });
    } else g6 = [];
    do {
      if (y7) {
        const t8 = await e7.readByte();
        if (p4 = false, t8 < 192) c6 = t8;
        else if (t8 >= 192 && t8 < 224) c6 = (t8 - 192 << 8) + await e7.readByte() + 192;
        else if (t8 > 223 && t8 < 255) {
          if (c6 = 1 << (31 & t8), p4 = true, !l5) throw new TypeError("This packet type does not support partial lengths.");
        } else c6 = (await e7.readByte() << 24 | await e7.readByte() << 16 | await e7.readByte() << 8 | await e7.readByte()) >>> 0;
      } else switch (u7) {
        case 0:
          c6 = await e7.readByte();
          break;
        case 1:
          c6 = await e7.readByte() << 8 | await e7.readByte();
          break;
        case 2:
          c6 = (await e7.readByte() << 24 | await e7.readByte() << 16 | await e7.readByte() << 8 | await e7.readByte()) >>> 0;
          break;
        default:
          c6 = 1 / 0;
      }
      if (c6 > 0) {
        let t8 = 0;
        for (; ; ) {
          i7 && await i7.ready;
          const { done: r8, value: n8 } = await e7.read();
          if (r8) {
            if (c6 === 1 / 0) break;
            throw Error("Unexpected end of packet");
          }
          const s7 = c6 === 1 / 0 ? n8 : n8.subarray(0, c6 - t8);
          if (i7 ? await i7.write(s7) : g6.push(s7), t8 += n8.length, t8 >= c6) {
            e7.unshift(n8.subarray(c6 - t8 + n8.length));
            break;
          }
        }
      }
    } while (p4);
    i7 ? (await i7.ready, await i7.close()) : (g6 = N4.concatUint8Array(g6), await r7({ tag: h6, packet: g6 }));
  } catch (e8) {
    if (i7) return await i7.abort(e8), true;
    throw e8;
  } finally {
    i7 && await n7;
  }
}
var at3 = class _at extends Error {
  constructor(...e7) {
    super(...e7), Error.captureStackTrace && Error.captureStackTrace(this, _at), this.name = "UnsupportedError";
  }
};
var ot3 = class extends at3 {
  constructor(...e7) {
    super(...e7), Error.captureStackTrace && Error.captureStackTrace(this, at3), this.name = "UnknownPacketError";
  }
};
var ct3 = class extends at3 {
  constructor(...e7) {
    super(...e7), Error.captureStackTrace && Error.captureStackTrace(this, at3), this.name = "MalformedPacketError";
  }
};
var ut3 = class {
  constructor(e7, t7) {
    this.tag = e7, this.rawContent = t7;
  }
  write() {
    return this.rawContent;
  }
};
async function ht3(e7) {
  switch (e7) {
    case M6.publicKey.ed25519:
      try {
        const e8 = N4.getWebCrypto(), t7 = await e8.generateKey("Ed25519", true, ["sign", "verify"]).catch(((e9) => {
          if ("OperationError" === e9.name) {
            const e10 = Error("Unexpected key generation issue");
            throw e10.name = "NotSupportedError", e10;
          }
          throw e9;
        })), r7 = await e8.exportKey("jwk", t7.privateKey), i7 = await e8.exportKey("jwk", t7.publicKey);
        return { A: new Uint8Array(G5(i7.x)), seed: G5(r7.d) };
      } catch (t7) {
        if ("NotSupportedError" !== t7.name) throw t7;
        const { default: r7 } = await Promise.resolve().then(() => (init_nacl_fast_min(), nacl_fast_min_exports)), i7 = ge2(gt3(e7)), { publicKey: n7 } = r7.sign.keyPair.fromSeed(i7);
        return { A: n7, seed: i7 };
      }
    case M6.publicKey.ed448: {
      const e8 = await N4.getNobleCurve(M6.publicKey.ed448), { secretKey: t7, publicKey: r7 } = e8.keygen();
      return { A: r7, seed: t7 };
    }
    default:
      throw Error("Unsupported EdDSA algorithm");
  }
}
async function yt3(e7, t7, r7, i7, n7, s7) {
  if (Le(t7) < Le(dt3(e7))) throw Error("Hash algorithm too weak for EdDSA.");
  switch (e7) {
    case M6.publicKey.ed25519:
      try {
        const t8 = N4.getWebCrypto(), r8 = mt3(e7, i7, n7), a7 = await t8.importKey("jwk", r8, "Ed25519", false, ["sign"]);
        return { RS: new Uint8Array(await t8.sign("Ed25519", a7, s7)) };
      } catch (e8) {
        if ("NotSupportedError" !== e8.name) throw e8;
        const { default: t8 } = await Promise.resolve().then(() => (init_nacl_fast_min(), nacl_fast_min_exports)), r8 = N4.concatUint8Array([n7, i7]);
        return { RS: t8.sign.detached(s7, r8) };
      }
    case M6.publicKey.ed448:
      return { RS: (await N4.getNobleCurve(M6.publicKey.ed448)).sign(s7, n7) };
    default:
      throw Error("Unsupported EdDSA algorithm");
  }
}
async function lt3(e7, t7, { RS: r7 }, i7, n7, s7) {
  if (Le(t7) < Le(dt3(e7))) throw Error("Hash algorithm too weak for EdDSA.");
  switch (e7) {
    case M6.publicKey.ed25519:
      try {
        const t8 = N4.getWebCrypto(), i8 = ft3(e7, n7), a7 = await t8.importKey("jwk", i8, "Ed25519", false, ["verify"]);
        return await t8.verify("Ed25519", a7, r7, s7);
      } catch (e8) {
        if ("NotSupportedError" !== e8.name) throw e8;
        const { default: t8 } = await Promise.resolve().then(() => (init_nacl_fast_min(), nacl_fast_min_exports));
        return t8.sign.detached.verify(s7, r7, n7);
      }
    case M6.publicKey.ed448:
      return (await N4.getNobleCurve(M6.publicKey.ed448)).verify(r7, s7, n7);
    default:
      throw Error("Unsupported EdDSA algorithm");
  }
}
async function pt3(e7, t7, r7) {
  switch (e7) {
    case M6.publicKey.ed25519:
      try {
        const i7 = N4.getWebCrypto(), n7 = mt3(e7, t7, r7), s7 = ft3(e7, t7), a7 = await i7.importKey("jwk", n7, "Ed25519", false, ["sign"]), o7 = await i7.importKey("jwk", s7, "Ed25519", false, ["verify"]), c6 = ge2(8), u7 = new Uint8Array(await i7.sign("Ed25519", a7, c6));
        return await i7.verify("Ed25519", o7, u7, c6);
      } catch (e8) {
        if ("NotSupportedError" !== e8.name) return false;
        const { default: i7 } = await Promise.resolve().then(() => (init_nacl_fast_min(), nacl_fast_min_exports)), { publicKey: n7 } = i7.sign.keyPair.fromSeed(r7);
        return N4.equalsUint8Array(t7, n7);
      }
    case M6.publicKey.ed448: {
      const e8 = (await N4.getNobleCurve(M6.publicKey.ed448)).getPublicKey(r7);
      return N4.equalsUint8Array(t7, e8);
    }
    default:
      return false;
  }
}
function gt3(e7) {
  switch (e7) {
    case M6.publicKey.ed25519:
      return 32;
    case M6.publicKey.ed448:
      return 57;
    default:
      throw Error("Unsupported EdDSA algorithm");
  }
}
function dt3(e7) {
  switch (e7) {
    case M6.publicKey.ed25519:
      return M6.hash.sha256;
    case M6.publicKey.ed448:
      return M6.hash.sha512;
    default:
      throw Error("Unknown EdDSA algo");
  }
}
var ft3 = (e7, t7) => {
  if (e7 === M6.publicKey.ed25519) {
    return { kty: "OKP", crv: "Ed25519", x: q5(t7), ext: true };
  }
  throw Error("Unsupported EdDSA algorithm");
};
var mt3 = (e7, t7, r7) => {
  if (e7 === M6.publicKey.ed25519) {
    const i7 = ft3(e7, t7);
    return i7.d = q5(r7), i7;
  }
  throw Error("Unsupported EdDSA algorithm");
};
var wt3 = /* @__PURE__ */ Object.freeze({ __proto__: null, generate: ht3, getPayloadSize: gt3, getPreferredHashAlgo: dt3, sign: yt3, validateParams: pt3, verify: lt3 });
function bt3(e7) {
  return e7 instanceof Uint8Array || ArrayBuffer.isView(e7) && "Uint8Array" === e7.constructor.name;
}
function kt3(e7, ...t7) {
  if (!bt3(e7)) throw Error("Uint8Array expected");
  if (t7.length > 0 && !t7.includes(e7.length)) throw Error("Uint8Array expected of length " + t7 + ", got length=" + e7.length);
}
function vt3(e7, t7 = true) {
  if (e7.destroyed) throw Error("Hash instance has been destroyed");
  if (t7 && e7.finished) throw Error("Hash#digest() has already been called");
}
function At3(e7, t7) {
  kt3(e7);
  const r7 = t7.outputLen;
  if (e7.length < r7) throw Error("digestInto() expects output buffer of length at least " + r7);
}
function Kt2(e7) {
  return new Uint8Array(e7.buffer, e7.byteOffset, e7.byteLength);
}
function Et3(e7) {
  return new Uint32Array(e7.buffer, e7.byteOffset, Math.floor(e7.byteLength / 4));
}
function St2(...e7) {
  for (let t7 = 0; t7 < e7.length; t7++) e7[t7].fill(0);
}
function Pt2(e7) {
  return new DataView(e7.buffer, e7.byteOffset, e7.byteLength);
}
var Ut3 = /* @__PURE__ */ (() => 68 === new Uint8Array(new Uint32Array([287454020]).buffer)[0])();
function Dt3(e7) {
  if ("string" == typeof e7) e7 = (function(e8) {
    if ("string" != typeof e8) throw Error("string expected");
    return new Uint8Array(new TextEncoder().encode(e8));
  })(e7);
  else {
    if (!bt3(e7)) throw Error("Uint8Array expected, got " + typeof e7);
    e7 = Ft3(e7);
  }
  return e7;
}
function xt3(e7, t7) {
  return e7.buffer === t7.buffer && e7.byteOffset < t7.byteOffset + t7.byteLength && t7.byteOffset < e7.byteOffset + e7.byteLength;
}
function It3(e7, t7) {
  if (xt3(e7, t7) && e7.byteOffset < t7.byteOffset) throw Error("complex overlap of input and output is not supported");
}
function Ct3(e7, t7) {
  if (e7.length !== t7.length) return false;
  let r7 = 0;
  for (let i7 = 0; i7 < e7.length; i7++) r7 |= e7[i7] ^ t7[i7];
  return 0 === r7;
}
var Bt3 = (e7, t7) => {
  function r7(r8, ...i7) {
    if (kt3(r8), !Ut3) throw Error("Non little-endian hardware is not yet supported");
    if (void 0 !== e7.nonceLength) {
      const t8 = i7[0];
      if (!t8) throw Error("nonce / iv required");
      e7.varSizeNonce ? kt3(t8) : kt3(t8, e7.nonceLength);
    }
    const n7 = e7.tagLength;
    n7 && void 0 !== i7[1] && kt3(i7[1]);
    const s7 = t7(r8, ...i7), a7 = (e8, t8) => {
      if (void 0 !== t8) {
        if (2 !== e8) throw Error("cipher output not supported");
        kt3(t8);
      }
    };
    let o7 = false;
    return { encrypt(e8, t8) {
      if (o7) throw Error("cannot encrypt() twice with same key + nonce");
      return o7 = true, kt3(e8), a7(s7.encrypt.length, t8), s7.encrypt(e8, t8);
    }, decrypt(e8, t8) {
      if (kt3(e8), n7 && e8.length < n7) throw Error("invalid ciphertext length: smaller than tagLength=" + n7);
      return a7(s7.decrypt.length, t8), s7.decrypt(e8, t8);
    } };
  }
  return Object.assign(r7, e7), r7;
};
function Tt2(e7, t7, r7 = true) {
  if (void 0 === t7) return new Uint8Array(e7);
  if (t7.length !== e7) throw Error("invalid output length, expected " + e7 + ", got: " + t7.length);
  if (r7 && !Lt3(t7)) throw Error("invalid output, must be aligned");
  return t7;
}
function Mt3(e7, t7, r7, i7) {
  if ("function" == typeof e7.setBigUint64) return e7.setBigUint64(t7, r7, i7);
  const n7 = BigInt(32), s7 = BigInt(4294967295), a7 = Number(r7 >> n7 & s7), o7 = Number(r7 & s7);
  e7.setUint32(t7 + 0, a7, i7), e7.setUint32(t7 + 4, o7, i7);
}
function Lt3(e7) {
  return e7.byteOffset % 4 == 0;
}
function Ft3(e7) {
  return Uint8Array.from(e7);
}
var Nt3 = 16;
var zt2 = /* @__PURE__ */ new Uint8Array(16);
var Rt2 = Et3(zt2);
var Ot3 = (e7) => (e7 >>> 0 & 255) << 24 | (e7 >>> 8 & 255) << 16 | (e7 >>> 16 & 255) << 8 | e7 >>> 24 & 255;
var jt2 = class {
  constructor(e7, t7) {
    this.blockLen = Nt3, this.outputLen = Nt3, this.s0 = 0, this.s1 = 0, this.s2 = 0, this.s3 = 0, this.finished = false, kt3(e7 = Dt3(e7), 16);
    const r7 = Pt2(e7);
    let i7 = r7.getUint32(0, false), n7 = r7.getUint32(4, false), s7 = r7.getUint32(8, false), a7 = r7.getUint32(12, false);
    const o7 = [];
    for (let e8 = 0; e8 < 128; e8++) o7.push({ s0: Ot3(i7), s1: Ot3(n7), s2: Ot3(s7), s3: Ot3(a7) }), { s0: i7, s1: n7, s2: s7, s3: a7 } = { s3: (h6 = s7) << 31 | (y7 = a7) >>> 1, s2: (u7 = n7) << 31 | h6 >>> 1, s1: (c6 = i7) << 31 | u7 >>> 1, s0: c6 >>> 1 ^ 225 << 24 & -(1 & y7) };
    var c6, u7, h6, y7;
    const l5 = (p4 = t7 || 1024) > 65536 ? 8 : p4 > 1024 ? 4 : 2;
    var p4;
    if (![1, 2, 4, 8].includes(l5)) throw Error("ghash: invalid window size, expected 2, 4 or 8");
    this.W = l5;
    const g6 = 128 / l5, d5 = this.windowSize = 2 ** l5, f7 = [];
    for (let e8 = 0; e8 < g6; e8++) for (let t8 = 0; t8 < d5; t8++) {
      let r8 = 0, i8 = 0, n8 = 0, s8 = 0;
      for (let a8 = 0; a8 < l5; a8++) {
        if (!(t8 >>> l5 - a8 - 1 & 1)) continue;
        const { s0: c7, s1: u8, s2: h7, s3: y8 } = o7[l5 * e8 + a8];
        r8 ^= c7, i8 ^= u8, n8 ^= h7, s8 ^= y8;
      }
      f7.push({ s0: r8, s1: i8, s2: n8, s3: s8 });
    }
    this.t = f7;
  }
  _updateBlock(e7, t7, r7, i7) {
    e7 ^= this.s0, t7 ^= this.s1, r7 ^= this.s2, i7 ^= this.s3;
    const { W: n7, t: s7, windowSize: a7 } = this;
    let o7 = 0, c6 = 0, u7 = 0, h6 = 0;
    const y7 = (1 << n7) - 1;
    let l5 = 0;
    for (const p4 of [e7, t7, r7, i7]) for (let e8 = 0; e8 < 4; e8++) {
      const t8 = p4 >>> 8 * e8 & 255;
      for (let e9 = 8 / n7 - 1; e9 >= 0; e9--) {
        const r8 = t8 >>> n7 * e9 & y7, { s0: i8, s1: p5, s2: g6, s3: d5 } = s7[l5 * a7 + r8];
        o7 ^= i8, c6 ^= p5, u7 ^= g6, h6 ^= d5, l5 += 1;
      }
    }
    this.s0 = o7, this.s1 = c6, this.s2 = u7, this.s3 = h6;
  }
  update(e7) {
    vt3(this), kt3(e7 = Dt3(e7));
    const t7 = Et3(e7), r7 = Math.floor(e7.length / Nt3), i7 = e7.length % Nt3;
    for (let e8 = 0; e8 < r7; e8++) this._updateBlock(t7[4 * e8 + 0], t7[4 * e8 + 1], t7[4 * e8 + 2], t7[4 * e8 + 3]);
    return i7 && (zt2.set(e7.subarray(r7 * Nt3)), this._updateBlock(Rt2[0], Rt2[1], Rt2[2], Rt2[3]), St2(Rt2)), this;
  }
  destroy() {
    const { t: e7 } = this;
    for (const t7 of e7) t7.s0 = 0, t7.s1 = 0, t7.s2 = 0, t7.s3 = 0;
  }
  digestInto(e7) {
    vt3(this), At3(e7, this), this.finished = true;
    const { s0: t7, s1: r7, s2: i7, s3: n7 } = this, s7 = Et3(e7);
    return s7[0] = t7, s7[1] = r7, s7[2] = i7, s7[3] = n7, e7;
  }
  digest() {
    const e7 = new Uint8Array(Nt3);
    return this.digestInto(e7), this.destroy(), e7;
  }
};
var Ht3 = class extends jt2 {
  constructor(e7, t7) {
    kt3(e7 = Dt3(e7));
    const r7 = (function(e8) {
      e8.reverse();
      const t8 = 1 & e8[15];
      let r8 = 0;
      for (let t9 = 0; t9 < e8.length; t9++) {
        const i7 = e8[t9];
        e8[t9] = i7 >>> 1 | r8, r8 = (1 & i7) << 7;
      }
      return e8[0] ^= 225 & -t8, e8;
    })(Ft3(e7));
    super(r7, t7), St2(r7);
  }
  update(e7) {
    e7 = Dt3(e7), vt3(this);
    const t7 = Et3(e7), r7 = e7.length % Nt3, i7 = Math.floor(e7.length / Nt3);
    for (let e8 = 0; e8 < i7; e8++) this._updateBlock(Ot3(t7[4 * e8 + 3]), Ot3(t7[4 * e8 + 2]), Ot3(t7[4 * e8 + 1]), Ot3(t7[4 * e8 + 0]));
    return r7 && (zt2.set(e7.subarray(i7 * Nt3)), this._updateBlock(Ot3(Rt2[3]), Ot3(Rt2[2]), Ot3(Rt2[1]), Ot3(Rt2[0])), St2(Rt2)), this;
  }
  digestInto(e7) {
    vt3(this), At3(e7, this), this.finished = true;
    const { s0: t7, s1: r7, s2: i7, s3: n7 } = this, s7 = Et3(e7);
    return s7[0] = t7, s7[1] = r7, s7[2] = i7, s7[3] = n7, e7.reverse();
  }
};
function Gt3(e7) {
  const t7 = (t8, r8) => e7(r8, t8.length).update(Dt3(t8)).digest(), r7 = e7(new Uint8Array(16), 0);
  return t7.outputLen = r7.outputLen, t7.blockLen = r7.blockLen, t7.create = (t8, r8) => e7(t8, r8), t7;
}
var qt2 = Gt3(((e7, t7) => new jt2(e7, t7)));
Gt3(((e7, t7) => new Ht3(e7, t7)));
var _t3 = 16;
var Wt2 = /* @__PURE__ */ new Uint8Array(_t3);
function Vt2(e7) {
  return e7 << 1 ^ 283 & -(e7 >> 7);
}
function $t2(e7, t7) {
  let r7 = 0;
  for (; t7 > 0; t7 >>= 1) r7 ^= e7 & -(1 & t7), e7 = Vt2(e7);
  return r7;
}
var Xt3 = /* @__PURE__ */ (() => {
  const e7 = new Uint8Array(256);
  for (let t8 = 0, r7 = 1; t8 < 256; t8++, r7 ^= Vt2(r7)) e7[t8] = r7;
  const t7 = new Uint8Array(256);
  t7[0] = 99;
  for (let r7 = 0; r7 < 255; r7++) {
    let i7 = e7[255 - r7];
    i7 |= i7 << 8, t7[e7[r7]] = 255 & (i7 ^ i7 >> 4 ^ i7 >> 5 ^ i7 >> 6 ^ i7 >> 7 ^ 99);
  }
  return St2(e7), t7;
})();
var Qt2 = /* @__PURE__ */ Xt3.map(((e7, t7) => Xt3.indexOf(t7)));
var Yt2 = (e7) => e7 << 8 | e7 >>> 24;
var Zt2 = (e7) => e7 << 24 & 4278190080 | e7 << 8 & 16711680 | e7 >>> 8 & 65280 | e7 >>> 24 & 255;
function Jt2(e7, t7) {
  if (256 !== e7.length) throw Error("Wrong sbox length");
  const r7 = new Uint32Array(256).map(((r8, i8) => t7(e7[i8]))), i7 = r7.map(Yt2), n7 = i7.map(Yt2), s7 = n7.map(Yt2), a7 = new Uint32Array(65536), o7 = new Uint32Array(65536), c6 = new Uint16Array(65536);
  for (let t8 = 0; t8 < 256; t8++) for (let u7 = 0; u7 < 256; u7++) {
    const h6 = 256 * t8 + u7;
    a7[h6] = r7[t8] ^ i7[u7], o7[h6] = n7[t8] ^ s7[u7], c6[h6] = e7[t8] << 8 | e7[u7];
  }
  return { sbox: e7, sbox2: c6, T0: r7, T1: i7, T2: n7, T3: s7, T01: a7, T23: o7 };
}
var er = /* @__PURE__ */ Jt2(Xt3, ((e7) => $t2(e7, 3) << 24 | e7 << 16 | e7 << 8 | $t2(e7, 2)));
var tr = /* @__PURE__ */ Jt2(Qt2, ((e7) => $t2(e7, 11) << 24 | $t2(e7, 13) << 16 | $t2(e7, 9) << 8 | $t2(e7, 14)));
var rr = /* @__PURE__ */ (() => {
  const e7 = new Uint8Array(16);
  for (let t7 = 0, r7 = 1; t7 < 16; t7++, r7 = Vt2(r7)) e7[t7] = r7;
  return e7;
})();
function ir(e7) {
  kt3(e7);
  const t7 = e7.length;
  if (![16, 24, 32].includes(t7)) throw Error("aes: invalid key size, should be 16, 24 or 32, got " + t7);
  const { sbox2: r7 } = er, i7 = [];
  Lt3(e7) || i7.push(e7 = Ft3(e7));
  const n7 = Et3(e7), s7 = n7.length, a7 = (e8) => ar(r7, e8, e8, e8, e8), o7 = new Uint32Array(t7 + 28);
  o7.set(n7);
  for (let e8 = s7; e8 < o7.length; e8++) {
    let t8 = o7[e8 - 1];
    e8 % s7 == 0 ? t8 = a7((c6 = t8) << 24 | c6 >>> 8) ^ rr[e8 / s7 - 1] : s7 > 6 && e8 % s7 == 4 && (t8 = a7(t8)), o7[e8] = o7[e8 - s7] ^ t8;
  }
  var c6;
  return St2(...i7), o7;
}
function nr(e7) {
  const t7 = ir(e7), r7 = t7.slice(), i7 = t7.length, { sbox2: n7 } = er, { T0: s7, T1: a7, T2: o7, T3: c6 } = tr;
  for (let e8 = 0; e8 < i7; e8 += 4) for (let n8 = 0; n8 < 4; n8++) r7[e8 + n8] = t7[i7 - e8 - 4 + n8];
  St2(t7);
  for (let e8 = 4; e8 < i7 - 4; e8++) {
    const t8 = r7[e8], i8 = ar(n7, t8, t8, t8, t8);
    r7[e8] = s7[255 & i8] ^ a7[i8 >>> 8 & 255] ^ o7[i8 >>> 16 & 255] ^ c6[i8 >>> 24];
  }
  return r7;
}
function sr(e7, t7, r7, i7, n7, s7) {
  return e7[r7 << 8 & 65280 | i7 >>> 8 & 255] ^ t7[n7 >>> 8 & 65280 | s7 >>> 24 & 255];
}
function ar(e7, t7, r7, i7, n7) {
  return e7[255 & t7 | 65280 & r7] | e7[i7 >>> 16 & 255 | n7 >>> 16 & 65280] << 16;
}
function or(e7, t7, r7, i7, n7) {
  const { sbox2: s7, T01: a7, T23: o7 } = er;
  let c6 = 0;
  t7 ^= e7[c6++], r7 ^= e7[c6++], i7 ^= e7[c6++], n7 ^= e7[c6++];
  const u7 = e7.length / 4 - 2;
  for (let s8 = 0; s8 < u7; s8++) {
    const s9 = e7[c6++] ^ sr(a7, o7, t7, r7, i7, n7), u8 = e7[c6++] ^ sr(a7, o7, r7, i7, n7, t7), h6 = e7[c6++] ^ sr(a7, o7, i7, n7, t7, r7), y7 = e7[c6++] ^ sr(a7, o7, n7, t7, r7, i7);
    t7 = s9, r7 = u8, i7 = h6, n7 = y7;
  }
  return { s0: e7[c6++] ^ ar(s7, t7, r7, i7, n7), s1: e7[c6++] ^ ar(s7, r7, i7, n7, t7), s2: e7[c6++] ^ ar(s7, i7, n7, t7, r7), s3: e7[c6++] ^ ar(s7, n7, t7, r7, i7) };
}
function cr(e7, t7, r7, i7, n7) {
  const { sbox2: s7, T01: a7, T23: o7 } = tr;
  let c6 = 0;
  t7 ^= e7[c6++], r7 ^= e7[c6++], i7 ^= e7[c6++], n7 ^= e7[c6++];
  const u7 = e7.length / 4 - 2;
  for (let s8 = 0; s8 < u7; s8++) {
    const s9 = e7[c6++] ^ sr(a7, o7, t7, n7, i7, r7), u8 = e7[c6++] ^ sr(a7, o7, r7, t7, n7, i7), h6 = e7[c6++] ^ sr(a7, o7, i7, r7, t7, n7), y7 = e7[c6++] ^ sr(a7, o7, n7, i7, r7, t7);
    t7 = s9, r7 = u8, i7 = h6, n7 = y7;
  }
  return { s0: e7[c6++] ^ ar(s7, t7, n7, i7, r7), s1: e7[c6++] ^ ar(s7, r7, t7, n7, i7), s2: e7[c6++] ^ ar(s7, i7, r7, t7, n7), s3: e7[c6++] ^ ar(s7, n7, i7, r7, t7) };
}
function ur(e7, t7, r7, i7) {
  kt3(t7, _t3), kt3(r7);
  const n7 = r7.length;
  It3(r7, i7 = Tt2(n7, i7));
  const s7 = t7, a7 = Et3(s7);
  let { s0: o7, s1: c6, s2: u7, s3: h6 } = or(e7, a7[0], a7[1], a7[2], a7[3]);
  const y7 = Et3(r7), l5 = Et3(i7);
  for (let t8 = 0; t8 + 4 <= y7.length; t8 += 4) {
    l5[t8 + 0] = y7[t8 + 0] ^ o7, l5[t8 + 1] = y7[t8 + 1] ^ c6, l5[t8 + 2] = y7[t8 + 2] ^ u7, l5[t8 + 3] = y7[t8 + 3] ^ h6;
    let r8 = 1;
    for (let e8 = s7.length - 1; e8 >= 0; e8--) r8 = r8 + (255 & s7[e8]) | 0, s7[e8] = 255 & r8, r8 >>>= 8;
    ({ s0: o7, s1: c6, s2: u7, s3: h6 } = or(e7, a7[0], a7[1], a7[2], a7[3]));
  }
  const p4 = _t3 * Math.floor(y7.length / 4);
  if (p4 < n7) {
    const e8 = new Uint32Array([o7, c6, u7, h6]), t8 = Kt2(e8);
    for (let e9 = p4, s8 = 0; e9 < n7; e9++, s8++) i7[e9] = r7[e9] ^ t8[s8];
    St2(e8);
  }
  return i7;
}
function hr(e7, t7, r7, i7, n7) {
  kt3(r7, _t3), kt3(i7), n7 = Tt2(i7.length, n7);
  const s7 = r7, a7 = Et3(s7), o7 = Pt2(s7), c6 = Et3(i7), u7 = Et3(n7), h6 = t7 ? 0 : 12, y7 = i7.length;
  let l5 = o7.getUint32(h6, t7), { s0: p4, s1: g6, s2: d5, s3: f7 } = or(e7, a7[0], a7[1], a7[2], a7[3]);
  for (let r8 = 0; r8 + 4 <= c6.length; r8 += 4) u7[r8 + 0] = c6[r8 + 0] ^ p4, u7[r8 + 1] = c6[r8 + 1] ^ g6, u7[r8 + 2] = c6[r8 + 2] ^ d5, u7[r8 + 3] = c6[r8 + 3] ^ f7, l5 = l5 + 1 >>> 0, o7.setUint32(h6, l5, t7), { s0: p4, s1: g6, s2: d5, s3: f7 } = or(e7, a7[0], a7[1], a7[2], a7[3]);
  const m5 = _t3 * Math.floor(c6.length / 4);
  if (m5 < y7) {
    const e8 = new Uint32Array([p4, g6, d5, f7]), t8 = Kt2(e8);
    for (let e9 = m5, r8 = 0; e9 < y7; e9++, r8++) n7[e9] = i7[e9] ^ t8[r8];
    St2(e8);
  }
  return n7;
}
var yr = /* @__PURE__ */ Bt3({ blockSize: 16, nonceLength: 16 }, (function(e7, t7) {
  function r7(r8, i7) {
    if (kt3(r8), void 0 !== i7 && (kt3(i7), !Lt3(i7))) throw Error("unaligned destination");
    const n7 = ir(e7), s7 = Ft3(t7), a7 = [n7, s7];
    Lt3(r8) || a7.push(r8 = Ft3(r8));
    const o7 = ur(n7, s7, r8, i7);
    return St2(...a7), o7;
  }
  return { encrypt: (e8, t8) => r7(e8, t8), decrypt: (e8, t8) => r7(e8, t8) };
}));
var lr = /* @__PURE__ */ Bt3({ blockSize: 16, nonceLength: 16 }, (function(e7, t7, r7 = {}) {
  const i7 = !r7.disablePadding;
  return { encrypt(r8, n7) {
    const s7 = ir(e7), { b: a7, o: o7, out: c6 } = (function(e8, t8, r9) {
      kt3(e8);
      let i8 = e8.length;
      const n8 = i8 % _t3;
      if (!t8 && 0 !== n8) throw Error("aec/(cbc-ecb): unpadded plaintext with disabled padding");
      Lt3(e8) || (e8 = Ft3(e8));
      const s8 = Et3(e8);
      if (t8) {
        let e9 = _t3 - n8;
        e9 || (e9 = _t3), i8 += e9;
      }
      return It3(e8, r9 = Tt2(i8, r9)), { b: s8, o: Et3(r9), out: r9 };
    })(r8, i7, n7);
    let u7 = t7;
    const h6 = [s7];
    Lt3(u7) || h6.push(u7 = Ft3(u7));
    const y7 = Et3(u7);
    let l5 = y7[0], p4 = y7[1], g6 = y7[2], d5 = y7[3], f7 = 0;
    for (; f7 + 4 <= a7.length; ) l5 ^= a7[f7 + 0], p4 ^= a7[f7 + 1], g6 ^= a7[f7 + 2], d5 ^= a7[f7 + 3], { s0: l5, s1: p4, s2: g6, s3: d5 } = or(s7, l5, p4, g6, d5), o7[f7++] = l5, o7[f7++] = p4, o7[f7++] = g6, o7[f7++] = d5;
    if (i7) {
      const e8 = (function(e9) {
        const t8 = new Uint8Array(16), r9 = Et3(t8);
        t8.set(e9);
        const i8 = _t3 - e9.length;
        for (let e10 = _t3 - i8; e10 < _t3; e10++) t8[e10] = i8;
        return r9;
      })(r8.subarray(4 * f7));
      l5 ^= e8[0], p4 ^= e8[1], g6 ^= e8[2], d5 ^= e8[3], { s0: l5, s1: p4, s2: g6, s3: d5 } = or(s7, l5, p4, g6, d5), o7[f7++] = l5, o7[f7++] = p4, o7[f7++] = g6, o7[f7++] = d5;
    }
    return St2(...h6), c6;
  }, decrypt(r8, n7) {
    !(function(e8) {
      if (kt3(e8), e8.length % _t3 != 0) throw Error("aes-(cbc/ecb).decrypt ciphertext should consist of blocks with size 16");
    })(r8);
    const s7 = nr(e7);
    let a7 = t7;
    const o7 = [s7];
    Lt3(a7) || o7.push(a7 = Ft3(a7));
    const c6 = Et3(a7);
    n7 = Tt2(r8.length, n7), Lt3(r8) || o7.push(r8 = Ft3(r8)), It3(r8, n7);
    const u7 = Et3(r8), h6 = Et3(n7);
    let y7 = c6[0], l5 = c6[1], p4 = c6[2], g6 = c6[3];
    for (let e8 = 0; e8 + 4 <= u7.length; ) {
      const t8 = y7, r9 = l5, i8 = p4, n8 = g6;
      y7 = u7[e8 + 0], l5 = u7[e8 + 1], p4 = u7[e8 + 2], g6 = u7[e8 + 3];
      const { s0: a8, s1: o8, s2: c7, s3: d5 } = cr(s7, y7, l5, p4, g6);
      h6[e8++] = a8 ^ t8, h6[e8++] = o8 ^ r9, h6[e8++] = c7 ^ i8, h6[e8++] = d5 ^ n8;
    }
    return St2(...o7), (function(e8, t8) {
      if (!t8) return e8;
      const r9 = e8.length;
      if (!r9) throw Error("aes/pcks5: empty ciphertext not allowed");
      const i8 = e8[r9 - 1];
      if (i8 <= 0 || i8 > 16) throw Error("aes/pcks5: wrong padding");
      const n8 = e8.subarray(0, -i8);
      for (let t9 = 0; t9 < i8; t9++) if (e8[r9 - t9 - 1] !== i8) throw Error("aes/pcks5: wrong padding");
      return n8;
    })(n7, i7);
  } };
}));
var pr = /* @__PURE__ */ Bt3({ blockSize: 16, nonceLength: 16 }, (function(e7, t7) {
  function r7(r8, i7, n7) {
    kt3(r8);
    const s7 = r8.length;
    if (xt3(r8, n7 = Tt2(s7, n7))) throw Error("overlapping src and dst not supported.");
    const a7 = ir(e7);
    let o7 = t7;
    const c6 = [a7];
    Lt3(o7) || c6.push(o7 = Ft3(o7)), Lt3(r8) || c6.push(r8 = Ft3(r8));
    const u7 = Et3(r8), h6 = Et3(n7), y7 = i7 ? h6 : u7, l5 = Et3(o7);
    let p4 = l5[0], g6 = l5[1], d5 = l5[2], f7 = l5[3];
    for (let e8 = 0; e8 + 4 <= u7.length; ) {
      const { s0: t8, s1: r9, s2: i8, s3: n8 } = or(a7, p4, g6, d5, f7);
      h6[e8 + 0] = u7[e8 + 0] ^ t8, h6[e8 + 1] = u7[e8 + 1] ^ r9, h6[e8 + 2] = u7[e8 + 2] ^ i8, h6[e8 + 3] = u7[e8 + 3] ^ n8, p4 = y7[e8++], g6 = y7[e8++], d5 = y7[e8++], f7 = y7[e8++];
    }
    const m5 = _t3 * Math.floor(u7.length / 4);
    if (m5 < s7) {
      ({ s0: p4, s1: g6, s2: d5, s3: f7 } = or(a7, p4, g6, d5, f7));
      const e8 = Kt2(new Uint32Array([p4, g6, d5, f7]));
      for (let t8 = m5, i8 = 0; t8 < s7; t8++, i8++) n7[t8] = r8[t8] ^ e8[i8];
      St2(e8);
    }
    return St2(...c6), n7;
  }
  return { encrypt: (e8, t8) => r7(e8, true, t8), decrypt: (e8, t8) => r7(e8, false, t8) };
}));
function gr(e7, t7, r7, i7, n7) {
  const s7 = n7 ? n7.length : 0, a7 = e7.create(r7, i7.length + s7);
  n7 && a7.update(n7);
  const o7 = (function(e8, t8, r8) {
    const i8 = new Uint8Array(16), n8 = Pt2(i8);
    return Mt3(n8, 0, BigInt(t8), r8), Mt3(n8, 8, BigInt(e8), r8), i8;
  })(8 * i7.length, 8 * s7, t7);
  a7.update(i7), a7.update(o7);
  const c6 = a7.digest();
  return St2(o7), c6;
}
var dr = /* @__PURE__ */ Bt3({ blockSize: 16, nonceLength: 12, tagLength: 16, varSizeNonce: true }, (function(e7, t7, r7) {
  if (t7.length < 8) throw Error("aes/gcm: invalid nonce length");
  function i7(e8, t8, i8) {
    const n8 = gr(qt2, false, e8, i8, r7);
    for (let e9 = 0; e9 < t8.length; e9++) n8[e9] ^= t8[e9];
    return n8;
  }
  function n7() {
    const r8 = ir(e7), i8 = Wt2.slice(), n8 = Wt2.slice();
    if (hr(r8, false, n8, n8, i8), 12 === t7.length) n8.set(t7);
    else {
      const e8 = Wt2.slice();
      Mt3(Pt2(e8), 8, BigInt(8 * t7.length), false);
      const r9 = qt2.create(i8).update(t7).update(e8);
      r9.digestInto(n8), r9.destroy();
    }
    return { xk: r8, authKey: i8, counter: n8, tagMask: hr(r8, false, n8, Wt2) };
  }
  return { encrypt(e8) {
    const { xk: t8, authKey: r8, counter: s7, tagMask: a7 } = n7(), o7 = new Uint8Array(e8.length + 16), c6 = [t8, r8, s7, a7];
    Lt3(e8) || c6.push(e8 = Ft3(e8)), hr(t8, false, s7, e8, o7.subarray(0, e8.length));
    const u7 = i7(r8, a7, o7.subarray(0, o7.length - 16));
    return c6.push(u7), o7.set(u7, e8.length), St2(...c6), o7;
  }, decrypt(e8) {
    const { xk: t8, authKey: r8, counter: s7, tagMask: a7 } = n7(), o7 = [t8, r8, a7, s7];
    Lt3(e8) || o7.push(e8 = Ft3(e8));
    const c6 = e8.subarray(0, -16), u7 = e8.subarray(-16), h6 = i7(r8, a7, c6);
    if (o7.push(h6), !Ct3(h6, u7)) throw Error("aes/gcm: invalid ghash tag");
    const y7 = hr(t8, false, s7, c6);
    return St2(...o7), y7;
  } };
}));
function fr(e7) {
  return e7 instanceof Uint32Array || ArrayBuffer.isView(e7) && "Uint32Array" === e7.constructor.name;
}
function mr(e7, t7) {
  if (kt3(t7, 16), !fr(e7)) throw Error("_encryptBlock accepts result of expandKeyLE");
  const r7 = Et3(t7);
  let { s0: i7, s1: n7, s2: s7, s3: a7 } = or(e7, r7[0], r7[1], r7[2], r7[3]);
  return r7[0] = i7, r7[1] = n7, r7[2] = s7, r7[3] = a7, t7;
}
function wr(e7, t7) {
  if (kt3(t7, 16), !fr(e7)) throw Error("_decryptBlock accepts result of expandKeyLE");
  const r7 = Et3(t7);
  let { s0: i7, s1: n7, s2: s7, s3: a7 } = cr(e7, r7[0], r7[1], r7[2], r7[3]);
  return r7[0] = i7, r7[1] = n7, r7[2] = s7, r7[3] = a7, t7;
}
var br = { encrypt(e7, t7) {
  if (t7.length >= 2 ** 32) throw Error("plaintext should be less than 4gb");
  const r7 = ir(e7);
  if (16 === t7.length) mr(r7, t7);
  else {
    const e8 = Et3(t7);
    let i7 = e8[0], n7 = e8[1];
    for (let t8 = 0, s7 = 1; t8 < 6; t8++) for (let t9 = 2; t9 < e8.length; t9 += 2, s7++) {
      const { s0: a7, s1: o7, s2: c6, s3: u7 } = or(r7, i7, n7, e8[t9], e8[t9 + 1]);
      i7 = a7, n7 = o7 ^ Zt2(s7), e8[t9] = c6, e8[t9 + 1] = u7;
    }
    e8[0] = i7, e8[1] = n7;
  }
  r7.fill(0);
}, decrypt(e7, t7) {
  if (t7.length - 8 >= 2 ** 32) throw Error("ciphertext should be less than 4gb");
  const r7 = nr(e7), i7 = t7.length / 8 - 1;
  if (1 === i7) wr(r7, t7);
  else {
    const e8 = Et3(t7);
    let n7 = e8[0], s7 = e8[1];
    for (let t8 = 0, a7 = 6 * i7; t8 < 6; t8++) for (let t9 = 2 * i7; t9 >= 1; t9 -= 2, a7--) {
      s7 ^= Zt2(a7);
      const { s0: i8, s1: o7, s2: c6, s3: u7 } = cr(r7, n7, s7, e8[t9], e8[t9 + 1]);
      n7 = i8, s7 = o7, e8[t9] = c6, e8[t9 + 1] = u7;
    }
    e8[0] = n7, e8[1] = s7;
  }
  r7.fill(0);
} };
var kr = /* @__PURE__ */ new Uint8Array(8).fill(166);
var vr = /* @__PURE__ */ Bt3({ blockSize: 8 }, ((e7) => ({ encrypt(t7) {
  if (!t7.length || t7.length % 8 != 0) throw Error("invalid plaintext length");
  if (8 === t7.length) throw Error("8-byte keys not allowed in AESKW, use AESKWP instead");
  const r7 = (function(...e8) {
    let t8 = 0;
    for (let r9 = 0; r9 < e8.length; r9++) {
      const i7 = e8[r9];
      kt3(i7), t8 += i7.length;
    }
    const r8 = new Uint8Array(t8);
    for (let t9 = 0, i7 = 0; t9 < e8.length; t9++) {
      const n7 = e8[t9];
      r8.set(n7, i7), i7 += n7.length;
    }
    return r8;
  })(kr, t7);
  return br.encrypt(e7, r7), r7;
}, decrypt(t7) {
  if (t7.length % 8 != 0 || t7.length < 24) throw Error("invalid ciphertext length");
  const r7 = Ft3(t7);
  if (br.decrypt(e7, r7), !Ct3(r7.subarray(0, 8), kr)) throw Error("integrity check failed");
  return r7.subarray(0, 8).fill(0), r7.subarray(8);
} })));
var Ar = { expandKeyLE: ir, expandKeyDecLE: nr, encrypt: or, decrypt: cr, encryptBlock: mr, decryptBlock: wr, ctrCounter: ur, ctr32: hr };
async function Kr(e7) {
  switch (e7) {
    case M6.symmetric.aes128:
    case M6.symmetric.aes192:
    case M6.symmetric.aes256:
      throw Error("Not a legacy cipher");
    case M6.symmetric.cast5:
    case M6.symmetric.blowfish:
    case M6.symmetric.twofish:
    case M6.symmetric.tripledes: {
      const { legacyCiphers: t7 } = await Promise.resolve().then(() => (init_legacy_ciphers_min(), legacy_ciphers_min_exports)), r7 = M6.read(M6.symmetric, e7), i7 = t7.get(r7);
      if (!i7) throw Error("Unsupported cipher algorithm");
      return i7;
    }
    default:
      throw Error("Unsupported cipher algorithm");
  }
}
function Er(e7) {
  switch (e7) {
    case M6.symmetric.aes128:
    case M6.symmetric.aes192:
    case M6.symmetric.aes256:
    case M6.symmetric.twofish:
      return 16;
    case M6.symmetric.blowfish:
    case M6.symmetric.cast5:
    case M6.symmetric.tripledes:
      return 8;
    default:
      throw Error("Unsupported cipher");
  }
}
function Sr(e7) {
  switch (e7) {
    case M6.symmetric.aes128:
    case M6.symmetric.blowfish:
    case M6.symmetric.cast5:
      return 16;
    case M6.symmetric.aes192:
    case M6.symmetric.tripledes:
      return 24;
    case M6.symmetric.aes256:
    case M6.symmetric.twofish:
      return 32;
    default:
      throw Error("Unsupported cipher");
  }
}
function Pr(e7) {
  return { keySize: Sr(e7), blockSize: Er(e7) };
}
var Ur = N4.getWebCrypto();
async function Dr(e7, t7, r7) {
  const { keySize: i7 } = Pr(e7);
  if (!N4.isAES(e7) || t7.length !== i7) throw Error("Unexpected algorithm or key size");
  try {
    const e8 = await Ur.importKey("raw", t7, { name: "AES-KW" }, false, ["wrapKey"]), i8 = await Ur.importKey("raw", r7, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]), n7 = await Ur.wrapKey("raw", i8, e8, { name: "AES-KW" });
    return new Uint8Array(n7);
  } catch (e8) {
    if ("NotSupportedError" !== e8.name && (24 !== t7.length || "OperationError" !== e8.name)) throw e8;
    N4.printDebugError("Browser did not support operation: " + e8.message);
  }
  return vr(t7).encrypt(r7);
}
async function xr(e7, t7, r7) {
  const { keySize: i7 } = Pr(e7);
  if (!N4.isAES(e7) || t7.length !== i7) throw Error("Unexpected algorithm or key size");
  let n7;
  try {
    n7 = await Ur.importKey("raw", t7, { name: "AES-KW" }, false, ["unwrapKey"]);
  } catch (e8) {
    if ("NotSupportedError" !== e8.name && (24 !== t7.length || "OperationError" !== e8.name)) throw e8;
    return N4.printDebugError("Browser did not support operation: " + e8.message), vr(t7).decrypt(r7);
  }
  try {
    const e8 = await Ur.unwrapKey("raw", r7, n7, { name: "AES-KW" }, { name: "HMAC", hash: "SHA-256" }, true, ["sign"]);
    return new Uint8Array(await Ur.exportKey("raw", e8));
  } catch (e8) {
    if ("OperationError" === e8.name) throw Error("Key Data Integrity failed");
    throw e8;
  }
}
async function Ir(e7, t7, r7, i7, n7) {
  const s7 = N4.getWebCrypto(), a7 = M6.read(M6.webHash, e7);
  if (!a7) throw Error("Hash algo not supported with HKDF");
  const o7 = await s7.importKey("raw", t7, "HKDF", false, ["deriveBits"]), c6 = await s7.deriveBits({ name: "HKDF", hash: a7, salt: r7, info: i7 }, o7, 8 * n7);
  return new Uint8Array(c6);
}
var Cr = { x25519: N4.encodeUTF8("OpenPGP X25519"), x448: N4.encodeUTF8("OpenPGP X448") };
async function Br(e7) {
  switch (e7) {
    case M6.publicKey.x25519:
      try {
        const e8 = N4.getWebCrypto(), t7 = await e8.generateKey("X25519", true, ["deriveKey", "deriveBits"]).catch(((e9) => {
          if ("OperationError" === e9.name) {
            const e10 = Error("Unexpected key generation issue");
            throw e10.name = "NotSupportedError", e10;
          }
          throw e9;
        })), r7 = await e8.exportKey("jwk", t7.privateKey), i7 = await e8.exportKey("jwk", t7.publicKey);
        if (r7.x !== i7.x) {
          const e9 = Error("Unexpected mismatching public point");
          throw e9.name = "NotSupportedError", e9;
        }
        return { A: new Uint8Array(G5(i7.x)), k: G5(r7.d) };
      } catch (e8) {
        if ("NotSupportedError" !== e8.name) throw e8;
        const { default: t7 } = await Promise.resolve().then(() => (init_nacl_fast_min(), nacl_fast_min_exports)), { secretKey: r7, publicKey: i7 } = t7.box.keyPair();
        return { A: i7, k: r7 };
      }
    case M6.publicKey.x448: {
      const e8 = await N4.getNobleCurve(M6.publicKey.x448), { secretKey: t7, publicKey: r7 } = e8.keygen();
      return { A: r7, k: t7 };
    }
    default:
      throw Error("Unsupported ECDH algorithm");
  }
}
async function Tr(e7, t7, r7) {
  switch (e7) {
    case M6.publicKey.x25519:
      try {
        const { ephemeralPublicKey: i7, sharedSecret: n7 } = await Nr(e7, t7), s7 = await zr(e7, i7, t7, r7);
        return N4.equalsUint8Array(n7, s7);
      } catch {
        return false;
      }
    case M6.publicKey.x448: {
      const e8 = (await N4.getNobleCurve(M6.publicKey.x448)).getPublicKey(r7);
      return N4.equalsUint8Array(t7, e8);
    }
    default:
      return false;
  }
}
async function Mr(e7, t7, r7) {
  const { ephemeralPublicKey: i7, sharedSecret: n7 } = await Nr(e7, r7), s7 = N4.concatUint8Array([i7, r7, n7]);
  switch (e7) {
    case M6.publicKey.x25519: {
      const e8 = M6.symmetric.aes128, { keySize: r8 } = Pr(e8), n8 = await Ir(M6.hash.sha256, s7, new Uint8Array(), Cr.x25519, r8);
      return { ephemeralPublicKey: i7, wrappedKey: await Dr(e8, n8, t7) };
    }
    case M6.publicKey.x448: {
      const e8 = M6.symmetric.aes256, { keySize: r8 } = Pr(M6.symmetric.aes256), n8 = await Ir(M6.hash.sha512, s7, new Uint8Array(), Cr.x448, r8);
      return { ephemeralPublicKey: i7, wrappedKey: await Dr(e8, n8, t7) };
    }
    default:
      throw Error("Unsupported ECDH algorithm");
  }
}
async function Lr(e7, t7, r7, i7, n7) {
  const s7 = await zr(e7, t7, i7, n7), a7 = N4.concatUint8Array([t7, i7, s7]);
  switch (e7) {
    case M6.publicKey.x25519: {
      const e8 = M6.symmetric.aes128, { keySize: t8 } = Pr(e8);
      return xr(e8, await Ir(M6.hash.sha256, a7, new Uint8Array(), Cr.x25519, t8), r7);
    }
    case M6.publicKey.x448: {
      const e8 = M6.symmetric.aes256, { keySize: t8 } = Pr(M6.symmetric.aes256);
      return xr(e8, await Ir(M6.hash.sha512, a7, new Uint8Array(), Cr.x448, t8), r7);
    }
    default:
      throw Error("Unsupported ECDH algorithm");
  }
}
function Fr(e7) {
  switch (e7) {
    case M6.publicKey.x25519:
      return 32;
    case M6.publicKey.x448:
      return 56;
    default:
      throw Error("Unsupported ECDH algorithm");
  }
}
async function Nr(e7, t7) {
  switch (e7) {
    case M6.publicKey.x25519:
      try {
        const r7 = N4.getWebCrypto(), i7 = await r7.generateKey("X25519", true, ["deriveKey", "deriveBits"]).catch(((e8) => {
          if ("OperationError" === e8.name) {
            const e9 = Error("Unexpected key generation issue");
            throw e9.name = "NotSupportedError", e9;
          }
          throw e8;
        })), n7 = await r7.exportKey("jwk", i7.publicKey);
        if ((await r7.exportKey("jwk", i7.privateKey)).x !== n7.x) {
          const e8 = Error("Unexpected mismatching public point");
          throw e8.name = "NotSupportedError", e8;
        }
        const s7 = Or(e7, t7), a7 = await r7.importKey("jwk", s7, "X25519", false, []), o7 = await r7.deriveBits({ name: "X25519", public: a7 }, i7.privateKey, 8 * Fr(e7));
        return { sharedSecret: new Uint8Array(o7), ephemeralPublicKey: new Uint8Array(G5(n7.x)) };
      } catch (e8) {
        if ("NotSupportedError" !== e8.name) throw e8;
        const { default: r7 } = await Promise.resolve().then(() => (init_nacl_fast_min(), nacl_fast_min_exports)), { secretKey: i7, publicKey: n7 } = r7.box.keyPair(), s7 = r7.scalarMult(i7, t7);
        return Rr(s7), { ephemeralPublicKey: n7, sharedSecret: s7 };
      }
    case M6.publicKey.x448: {
      const e8 = await N4.getNobleCurve(M6.publicKey.x448), { secretKey: r7, publicKey: i7 } = e8.keygen(), n7 = e8.getSharedSecret(r7, t7);
      return Rr(n7), { ephemeralPublicKey: i7, sharedSecret: n7 };
    }
    default:
      throw Error("Unsupported ECDH algorithm");
  }
}
async function zr(e7, t7, r7, i7) {
  switch (e7) {
    case M6.publicKey.x25519:
      try {
        const n7 = N4.getWebCrypto(), s7 = (function(e8, t8, r8) {
          if (e8 === M6.publicKey.x25519) {
            const i8 = Or(e8, t8);
            return i8.d = q5(r8), i8;
          }
          throw Error("Unsupported ECDH algorithm");
        })(e7, r7, i7), a7 = Or(e7, t7), o7 = await n7.importKey("jwk", s7, "X25519", false, ["deriveKey", "deriveBits"]), c6 = await n7.importKey("jwk", a7, "X25519", false, []), u7 = await n7.deriveBits({ name: "X25519", public: c6 }, o7, 8 * Fr(e7));
        return new Uint8Array(u7);
      } catch (e8) {
        if ("NotSupportedError" !== e8.name) throw e8;
        const { default: r8 } = await Promise.resolve().then(() => (init_nacl_fast_min(), nacl_fast_min_exports)), n7 = r8.scalarMult(i7, t7);
        return Rr(n7), n7;
      }
    case M6.publicKey.x448: {
      const e8 = (await N4.getNobleCurve(M6.publicKey.x448)).getSharedSecret(i7, t7);
      return Rr(e8), e8;
    }
    default:
      throw Error("Unsupported ECDH algorithm");
  }
}
function Rr(e7) {
  let t7 = 0;
  for (let r7 = 0; r7 < e7.length; r7++) t7 |= e7[r7];
  if (0 === t7) throw Error("Unexpected low order point");
}
function Or(e7, t7) {
  if (e7 === M6.publicKey.x25519) {
    return { kty: "OKP", crv: "X25519", x: q5(t7), ext: true };
  }
  throw Error("Unsupported ECDH algorithm");
}
var jr = /* @__PURE__ */ Object.freeze({ __proto__: null, decrypt: Lr, encrypt: Mr, generate: Br, generateEphemeralEncryptionMaterial: Nr, getPayloadSize: Fr, recomputeSharedSecret: zr, validateParams: Tr });
var Hr = N4.getWebCrypto();
var Gr = N4.getNodeCrypto();
var qr = { [M6.curve.nistP256]: "P-256", [M6.curve.nistP384]: "P-384", [M6.curve.nistP521]: "P-521" };
var _r = Gr ? Gr.getCurves() : [];
var Wr = Gr ? { [M6.curve.secp256k1]: _r.includes("secp256k1") ? "secp256k1" : void 0, [M6.curve.nistP256]: _r.includes("prime256v1") ? "prime256v1" : void 0, [M6.curve.nistP384]: _r.includes("secp384r1") ? "secp384r1" : void 0, [M6.curve.nistP521]: _r.includes("secp521r1") ? "secp521r1" : void 0, [M6.curve.ed25519Legacy]: _r.includes("ED25519") ? "ED25519" : void 0, [M6.curve.curve25519Legacy]: _r.includes("X25519") ? "X25519" : void 0, [M6.curve.brainpoolP256r1]: _r.includes("brainpoolP256r1") ? "brainpoolP256r1" : void 0, [M6.curve.brainpoolP384r1]: _r.includes("brainpoolP384r1") ? "brainpoolP384r1" : void 0, [M6.curve.brainpoolP512r1]: _r.includes("brainpoolP512r1") ? "brainpoolP512r1" : void 0 } : {};
var Vr = { [M6.curve.nistP256]: { oid: [6, 8, 42, 134, 72, 206, 61, 3, 1, 7], keyType: M6.publicKey.ecdsa, hash: M6.hash.sha256, cipher: M6.symmetric.aes128, node: Wr[M6.curve.nistP256], web: qr[M6.curve.nistP256], payloadSize: 32, sharedSize: 256, wireFormatLeadingByte: 4 }, [M6.curve.nistP384]: { oid: [6, 5, 43, 129, 4, 0, 34], keyType: M6.publicKey.ecdsa, hash: M6.hash.sha384, cipher: M6.symmetric.aes192, node: Wr[M6.curve.nistP384], web: qr[M6.curve.nistP384], payloadSize: 48, sharedSize: 384, wireFormatLeadingByte: 4 }, [M6.curve.nistP521]: { oid: [6, 5, 43, 129, 4, 0, 35], keyType: M6.publicKey.ecdsa, hash: M6.hash.sha512, cipher: M6.symmetric.aes256, node: Wr[M6.curve.nistP521], web: qr[M6.curve.nistP521], payloadSize: 66, sharedSize: 528, wireFormatLeadingByte: 4 }, [M6.curve.secp256k1]: { oid: [6, 5, 43, 129, 4, 0, 10], keyType: M6.publicKey.ecdsa, hash: M6.hash.sha256, cipher: M6.symmetric.aes128, node: Wr[M6.curve.secp256k1], payloadSize: 32, wireFormatLeadingByte: 4 }, [M6.curve.ed25519Legacy]: { oid: [6, 9, 43, 6, 1, 4, 1, 218, 71, 15, 1], keyType: M6.publicKey.eddsaLegacy, hash: M6.hash.sha512, node: false, payloadSize: 32, wireFormatLeadingByte: 64 }, [M6.curve.curve25519Legacy]: { oid: [6, 10, 43, 6, 1, 4, 1, 151, 85, 1, 5, 1], keyType: M6.publicKey.ecdh, hash: M6.hash.sha256, cipher: M6.symmetric.aes128, node: false, payloadSize: 32, wireFormatLeadingByte: 64 }, [M6.curve.brainpoolP256r1]: { oid: [6, 9, 43, 36, 3, 3, 2, 8, 1, 1, 7], keyType: M6.publicKey.ecdsa, hash: M6.hash.sha256, cipher: M6.symmetric.aes128, node: Wr[M6.curve.brainpoolP256r1], payloadSize: 32, wireFormatLeadingByte: 4 }, [M6.curve.brainpoolP384r1]: { oid: [6, 9, 43, 36, 3, 3, 2, 8, 1, 1, 11], keyType: M6.publicKey.ecdsa, hash: M6.hash.sha384, cipher: M6.symmetric.aes192, node: Wr[M6.curve.brainpoolP384r1], payloadSize: 48, wireFormatLeadingByte: 4 }, [M6.curve.brainpoolP512r1]: { oid: [6, 9, 43, 36, 3, 3, 2, 8, 1, 1, 13], keyType: M6.publicKey.ecdsa, hash: M6.hash.sha512, cipher: M6.symmetric.aes256, node: Wr[M6.curve.brainpoolP512r1], payloadSize: 64, wireFormatLeadingByte: 4 } };
var $r = class {
  constructor(e7) {
    try {
      this.name = e7 instanceof Ze2 ? e7.getName() : M6.write(M6.curve, e7);
    } catch {
      throw new at3("Unknown curve");
    }
    const t7 = Vr[this.name];
    this.keyType = t7.keyType, this.oid = t7.oid, this.hash = t7.hash, this.cipher = t7.cipher, this.node = t7.node, this.web = t7.web, this.payloadSize = t7.payloadSize, this.sharedSize = t7.sharedSize, this.wireFormatLeadingByte = t7.wireFormatLeadingByte, this.web && N4.getWebCrypto() ? this.type = "web" : this.node && N4.getNodeCrypto() ? this.type = "node" : this.name === M6.curve.curve25519Legacy ? this.type = "curve25519Legacy" : this.name === M6.curve.ed25519Legacy && (this.type = "ed25519Legacy");
  }
  async genKeyPair() {
    switch (this.type) {
      case "web":
        try {
          return await (async function(e7, t7) {
            const r7 = await Hr.generateKey({ name: "ECDSA", namedCurve: qr[e7] }, true, ["sign", "verify"]), i7 = await Hr.exportKey("jwk", r7.privateKey);
            return { publicKey: ei(await Hr.exportKey("jwk", r7.publicKey), t7), privateKey: G5(i7.d) };
          })(this.name, this.wireFormatLeadingByte);
        } catch (e7) {
          return N4.printDebugError("Browser did not support generating ec key " + e7.message), Jr(this.name);
        }
      case "node":
        return (function(e7) {
          const t7 = Gr.createECDH(Wr[e7]);
          return t7.generateKeys(), { publicKey: new Uint8Array(t7.getPublicKey()), privateKey: new Uint8Array(t7.getPrivateKey()) };
        })(this.name);
      case "curve25519Legacy": {
        const { k: e7, A: t7 } = await Br(M6.publicKey.x25519), r7 = e7.slice().reverse();
        r7[0] = 127 & r7[0] | 64, r7[31] &= 248;
        return { publicKey: N4.concatUint8Array([new Uint8Array([this.wireFormatLeadingByte]), t7]), privateKey: r7 };
      }
      case "ed25519Legacy": {
        const { seed: e7, A: t7 } = await ht3(M6.publicKey.ed25519);
        return { publicKey: N4.concatUint8Array([new Uint8Array([this.wireFormatLeadingByte]), t7]), privateKey: e7 };
      }
      default:
        return Jr(this.name);
    }
  }
};
async function Xr(e7) {
  const t7 = new $r(e7), { oid: r7, hash: i7, cipher: n7 } = t7, s7 = await t7.genKeyPair();
  return { oid: r7, Q: s7.publicKey, secret: N4.leftPad(s7.privateKey, t7.payloadSize), hash: i7, cipher: n7 };
}
function Qr(e7) {
  return Vr[e7.getName()].hash;
}
async function Yr(e7, t7, r7, i7) {
  const n7 = { [M6.curve.nistP256]: true, [M6.curve.nistP384]: true, [M6.curve.nistP521]: true, [M6.curve.secp256k1]: true, [M6.curve.curve25519Legacy]: e7 === M6.publicKey.ecdh, [M6.curve.brainpoolP256r1]: true, [M6.curve.brainpoolP384r1]: true, [M6.curve.brainpoolP512r1]: true }, s7 = t7.getName();
  if (!n7[s7]) return false;
  if (s7 === M6.curve.curve25519Legacy) {
    const e8 = i7.slice().reverse();
    return !(r7.length < 1 || 64 !== r7[0]) && Tr(M6.publicKey.x25519, r7.subarray(1), e8);
  }
  const a7 = (await N4.getNobleCurve(M6.publicKey.ecdsa, s7)).getPublicKey(i7, false);
  return !!N4.equalsUint8Array(a7, r7);
}
function Zr(e7, t7) {
  const { payloadSize: r7, wireFormatLeadingByte: i7, name: n7 } = e7, s7 = n7 === M6.curve.curve25519Legacy || n7 === M6.curve.ed25519Legacy ? r7 : 2 * r7;
  if (t7[0] !== i7 || t7.length !== s7 + 1) throw Error("Invalid point encoding");
}
async function Jr(e7) {
  const t7 = await N4.getNobleCurve(M6.publicKey.ecdsa, e7), { secretKey: r7 } = t7.keygen();
  return { publicKey: t7.getPublicKey(r7, false), privateKey: r7 };
}
function ei(e7, t7) {
  const r7 = G5(e7.x), i7 = G5(e7.y), n7 = new Uint8Array(r7.length + i7.length + 1);
  return n7[0] = t7, n7.set(r7, 1), n7.set(i7, r7.length + 1), n7;
}
function ti(e7, t7, r7) {
  const i7 = e7, n7 = r7.slice(1, i7 + 1), s7 = r7.slice(i7 + 1, 2 * i7 + 1);
  return { kty: "EC", crv: t7, x: q5(n7), y: q5(s7), ext: true };
}
function ri(e7, t7, r7, i7) {
  const n7 = ti(e7, t7, r7);
  return n7.d = q5(i7), n7;
}
var ii = N4.getWebCrypto();
var ni = N4.getNodeCrypto();
async function si(e7, t7, r7, i7, n7, s7) {
  const a7 = new $r(e7);
  if (Zr(a7, i7), r7 && !N4.isStream(r7)) {
    const e8 = { publicKey: i7, privateKey: n7 };
    switch (a7.type) {
      case "web":
        try {
          return await (async function(e9, t8, r8, i8) {
            const n8 = e9.payloadSize, s8 = ri(e9.payloadSize, qr[e9.name], i8.publicKey, i8.privateKey), a8 = await ii.importKey("jwk", s8, { name: "ECDSA", namedCurve: qr[e9.name], hash: { name: M6.read(M6.webHash, e9.hash) } }, false, ["sign"]), o8 = new Uint8Array(await ii.sign({ name: "ECDSA", namedCurve: qr[e9.name], hash: { name: M6.read(M6.webHash, t8) } }, a8, r8));
            return { r: o8.slice(0, n8), s: o8.slice(n8, n8 << 1) };
          })(a7, t7, r7, e8);
        } catch (e9) {
          if ("nistP521" !== a7.name && ("DataError" === e9.name || "OperationError" === e9.name)) throw e9;
          N4.printDebugError("Browser did not support signing: " + e9.message);
        }
        break;
      case "node":
        return (function(e9, t8, r8, i8) {
          const n8 = N4.nodeRequire("eckey-utils"), s8 = N4.getNodeBuffer(), { privateKey: a8 } = n8.generateDer({ curveName: Wr[e9.name], privateKey: s8.from(i8) }), o8 = ni.createSign(M6.read(M6.hash, t8));
          o8.write(r8), o8.end();
          const c6 = new Uint8Array(o8.sign({ key: a8, format: "der", type: "sec1", dsaEncoding: "ieee-p1363" })), u7 = e9.payloadSize;
          return { r: c6.subarray(0, u7), s: c6.subarray(u7, u7 << 1) };
        })(a7, t7, r7, n7);
    }
  }
  const o7 = (await N4.getNobleCurve(M6.publicKey.ecdsa, a7.name)).sign(s7, n7, { lowS: false });
  return { r: le2(o7.r, "be", a7.payloadSize), s: le2(o7.s, "be", a7.payloadSize) };
}
async function ai(e7, t7, r7, i7, n7, s7) {
  const a7 = new $r(e7);
  Zr(a7, n7);
  const o7 = async () => 0 === s7[0] && oi(a7, r7, s7.subarray(1), n7);
  if (i7 && !N4.isStream(i7)) switch (a7.type) {
    case "web":
      try {
        const e8 = await (async function(e9, t8, { r: r8, s: i8 }, n8, s8) {
          const a8 = ti(e9.payloadSize, qr[e9.name], s8), o8 = await ii.importKey("jwk", a8, { name: "ECDSA", namedCurve: qr[e9.name], hash: { name: M6.read(M6.webHash, e9.hash) } }, false, ["verify"]), c6 = N4.concatUint8Array([r8, i8]).buffer;
          return ii.verify({ name: "ECDSA", namedCurve: qr[e9.name], hash: { name: M6.read(M6.webHash, t8) } }, o8, c6, n8);
        })(a7, t7, r7, i7, n7);
        return e8 || o7();
      } catch (e8) {
        if ("nistP521" !== a7.name && ("DataError" === e8.name || "OperationError" === e8.name)) throw e8;
        N4.printDebugError("Browser did not support verifying: " + e8.message);
      }
      break;
    case "node": {
      const e8 = (function(e9, t8, { r: r8, s: i8 }, n8, s8) {
        const a8 = N4.nodeRequire("eckey-utils"), o8 = N4.getNodeBuffer(), { publicKey: c6 } = a8.generateDer({ curveName: Wr[e9.name], publicKey: o8.from(s8) }), u7 = ni.createVerify(M6.read(M6.hash, t8));
        u7.write(n8), u7.end();
        const h6 = N4.concatUint8Array([r8, i8]);
        try {
          return u7.verify({ key: c6, format: "der", type: "spki", dsaEncoding: "ieee-p1363" }, h6);
        } catch {
          return false;
        }
      })(a7, t7, r7, i7, n7);
      return e8 || o7();
    }
  }
  return await oi(a7, r7, s7, n7) || o7();
}
async function oi(e7, t7, r7, i7) {
  return (await N4.getNobleCurve(M6.publicKey.ecdsa, e7.name)).verify(N4.concatUint8Array([t7.r, t7.s]), r7, i7, { lowS: false });
}
var ci = /* @__PURE__ */ Object.freeze({ __proto__: null, sign: si, validateParams: async function(e7, t7, r7) {
  const i7 = new $r(e7);
  if (i7.keyType !== M6.publicKey.ecdsa) return false;
  switch (i7.type) {
    case "web":
    case "node": {
      const i8 = ge2(8), n7 = M6.hash.sha256, s7 = await Me(n7, i8);
      try {
        const a7 = await si(e7, n7, i8, t7, r7, s7);
        return await ai(e7, n7, a7, i8, t7, s7);
      } catch {
        return false;
      }
    }
    default:
      return Yr(M6.publicKey.ecdsa, e7, t7, r7);
  }
}, verify: ai });
async function ui(e7, t7, r7, i7, n7, s7) {
  if (Zr(new $r(e7), i7), Le(t7) < Le(M6.hash.sha256)) throw Error("Hash algorithm too weak for EdDSA.");
  const { RS: a7 } = await yt3(M6.publicKey.ed25519, t7, 0, i7.subarray(1), n7, s7);
  return { r: a7.subarray(0, 32), s: a7.subarray(32) };
}
async function hi(e7, t7, { r: r7, s: i7 }, n7, s7, a7) {
  if (Zr(new $r(e7), s7), Le(t7) < Le(M6.hash.sha256)) throw Error("Hash algorithm too weak for EdDSA.");
  const o7 = N4.concatUint8Array([r7, i7]);
  return lt3(M6.publicKey.ed25519, t7, { RS: o7 }, 0, s7.subarray(1), a7);
}
async function yi(e7, t7, r7) {
  return e7.getName() === M6.curve.ed25519Legacy && (!(t7.length < 1 || 64 !== t7[0]) && pt3(M6.publicKey.ed25519, t7.subarray(1), r7));
}
var li = /* @__PURE__ */ Object.freeze({ __proto__: null, sign: ui, validateParams: yi, verify: hi });
function pi(e7) {
  const t7 = e7.length;
  if (t7 > 0) {
    const r7 = e7[t7 - 1];
    if (r7 >= 1) {
      const i7 = e7.subarray(t7 - r7), n7 = new Uint8Array(r7).fill(r7);
      if (N4.equalsUint8Array(i7, n7)) return e7.subarray(0, t7 - r7);
    }
  }
  throw Error("Invalid padding");
}
function gi(e7, t7, r7, i7) {
  return N4.concatUint8Array([t7.write(), new Uint8Array([e7]), r7.write(), N4.stringToUint8Array("Anonymous Sender    "), i7]);
}
async function di(e7, t7, r7, i7, n7 = false, s7 = false) {
  let a7;
  if (n7) {
    for (a7 = 0; a7 < t7.length && 0 === t7[a7]; a7++) ;
    t7 = t7.subarray(a7);
  }
  if (s7) {
    for (a7 = t7.length - 1; a7 >= 0 && 0 === t7[a7]; a7--) ;
    t7 = t7.subarray(0, a7 + 1);
  }
  return (await Me(e7, N4.concatUint8Array([new Uint8Array([0, 0, 0, 1]), t7, i7]))).subarray(0, r7);
}
async function fi(e7, t7) {
  switch (e7.type) {
    case "curve25519Legacy": {
      const { sharedSecret: r7, ephemeralPublicKey: i7 } = await Nr(M6.publicKey.x25519, t7.subarray(1));
      return { publicKey: N4.concatUint8Array([new Uint8Array([e7.wireFormatLeadingByte]), i7]), sharedKey: r7 };
    }
    case "web":
      if (e7.web && N4.getWebCrypto()) try {
        return await (async function(e8, t8) {
          const r7 = N4.getWebCrypto(), i7 = ti(e8.payloadSize, e8.web, t8);
          let n7 = r7.generateKey({ name: "ECDH", namedCurve: e8.web }, true, ["deriveKey", "deriveBits"]), s7 = r7.importKey("jwk", i7, { name: "ECDH", namedCurve: e8.web }, false, []);
          [n7, s7] = await Promise.all([n7, s7]);
          let a7 = r7.deriveBits({ name: "ECDH", namedCurve: e8.web, public: s7 }, n7.privateKey, e8.sharedSize), o7 = r7.exportKey("jwk", n7.publicKey);
          [a7, o7] = await Promise.all([a7, o7]);
          const c6 = new Uint8Array(a7), u7 = new Uint8Array(ei(o7, e8.wireFormatLeadingByte));
          return { publicKey: u7, sharedKey: c6 };
        })(e7, t7);
      } catch (r7) {
        return N4.printDebugError(r7), vi(e7, t7);
      }
      break;
    case "node":
      return (function(e8, t8) {
        const r7 = N4.getNodeCrypto(), i7 = r7.createECDH(e8.node);
        i7.generateKeys();
        const n7 = new Uint8Array(i7.computeSecret(t8));
        return { publicKey: new Uint8Array(i7.getPublicKey()), sharedKey: n7 };
      })(e7, t7);
    default:
      return vi(e7, t7);
  }
}
async function mi(e7, t7, r7, i7, n7) {
  const s7 = (function(e8) {
    const t8 = 8 - e8.length % 8, r8 = new Uint8Array(e8.length + t8).fill(t8);
    return r8.set(e8), r8;
  })(r7), a7 = new $r(e7);
  Zr(a7, i7);
  const { publicKey: o7, sharedKey: c6 } = await fi(a7, i7), u7 = gi(M6.publicKey.ecdh, e7, t7, n7), { keySize: h6 } = Pr(t7.cipher), y7 = await di(t7.hash, c6, h6, u7);
  return { publicKey: o7, wrappedKey: await Dr(t7.cipher, y7, s7) };
}
async function wi(e7, t7, r7, i7) {
  if (i7.length !== e7.payloadSize) {
    const t8 = new Uint8Array(e7.payloadSize);
    t8.set(i7, e7.payloadSize - i7.length), i7 = t8;
  }
  switch (e7.type) {
    case "curve25519Legacy": {
      const e8 = i7.slice().reverse();
      return { secretKey: e8, sharedKey: await zr(M6.publicKey.x25519, t7.subarray(1), r7.subarray(1), e8) };
    }
    case "web":
      if (e7.web && N4.getWebCrypto()) try {
        return await (async function(e8, t8, r8, i8) {
          const n7 = N4.getWebCrypto(), s7 = ri(e8.payloadSize, e8.web, r8, i8);
          let a7 = n7.importKey("jwk", s7, { name: "ECDH", namedCurve: e8.web }, true, ["deriveKey", "deriveBits"]);
          const o7 = ti(e8.payloadSize, e8.web, t8);
          let c6 = n7.importKey("jwk", o7, { name: "ECDH", namedCurve: e8.web }, true, []);
          [a7, c6] = await Promise.all([a7, c6]);
          let u7 = n7.deriveBits({ name: "ECDH", namedCurve: e8.web, public: c6 }, a7, e8.sharedSize), h6 = n7.exportKey("jwk", a7);
          [u7, h6] = await Promise.all([u7, h6]);
          const y7 = new Uint8Array(u7);
          return { secretKey: G5(h6.d), sharedKey: y7 };
        })(e7, t7, r7, i7);
      } catch (r8) {
        return N4.printDebugError(r8), ki(e7, t7, i7);
      }
      break;
    case "node":
      return (function(e8, t8, r8) {
        const i8 = N4.getNodeCrypto(), n7 = i8.createECDH(e8.node);
        n7.setPrivateKey(r8);
        const s7 = new Uint8Array(n7.computeSecret(t8));
        return { secretKey: new Uint8Array(n7.getPrivateKey()), sharedKey: s7 };
      })(e7, t7, i7);
    default:
      return ki(e7, t7, i7);
  }
}
async function bi(e7, t7, r7, i7, n7, s7, a7) {
  const o7 = new $r(e7);
  Zr(o7, n7), Zr(o7, r7);
  const { sharedKey: c6 } = await wi(o7, r7, n7, s7), u7 = gi(M6.publicKey.ecdh, e7, t7, a7), { keySize: h6 } = Pr(t7.cipher);
  let y7;
  for (let e8 = 0; e8 < 3; e8++) try {
    const r8 = await di(t7.hash, c6, h6, u7, 1 === e8, 2 === e8);
    return pi(await xr(t7.cipher, r8, i7));
  } catch (e9) {
    y7 = e9;
  }
  throw y7;
}
async function ki(e7, t7, r7) {
  return { secretKey: r7, sharedKey: (await N4.getNobleCurve(M6.publicKey.ecdh, e7.name)).getSharedSecret(r7, t7).subarray(1) };
}
async function vi(e7, t7) {
  const r7 = await N4.getNobleCurve(M6.publicKey.ecdh, e7.name), { publicKey: i7, privateKey: n7 } = await e7.genKeyPair();
  return { publicKey: i7, sharedKey: r7.getSharedSecret(n7, t7).subarray(1) };
}
var Ai = /* @__PURE__ */ Object.freeze({ __proto__: null, CurveWithOID: $r, ecdh: /* @__PURE__ */ Object.freeze({ __proto__: null, decrypt: bi, encrypt: mi, validateParams: async function(e7, t7, r7) {
  return Yr(M6.publicKey.ecdh, e7, t7, r7);
} }), ecdhX: jr, ecdsa: ci, eddsa: wt3, eddsaLegacy: li, generate: Xr, getPreferredHashAlgo: Qr });
var Ki = BigInt(0);
var Ei = BigInt(1);
var Si = class {
  constructor(e7) {
    e7 && (this.data = e7);
  }
  read(e7) {
    if (e7.length >= 1) {
      const t7 = e7[0];
      if (e7.length >= 1 + t7) return this.data = e7.subarray(1, 1 + t7), 1 + this.data.length;
    }
    throw Error("Invalid symmetric key");
  }
  write() {
    return N4.concatUint8Array([new Uint8Array([this.data.length]), this.data]);
  }
};
var Pi = class {
  constructor(e7) {
    if (e7) {
      const { hash: t7, cipher: r7 } = e7;
      this.hash = t7, this.cipher = r7;
    } else this.hash = null, this.cipher = null;
  }
  read(e7) {
    if (e7.length < 4 || 3 !== e7[0] || 1 !== e7[1]) throw new at3("Cannot read KDFParams");
    return this.hash = e7[2], this.cipher = e7[3], 4;
  }
  write() {
    return new Uint8Array([3, 1, this.hash, this.cipher]);
  }
};
var Ui = class _Ui {
  static fromObject({ wrappedKey: e7, algorithm: t7 }) {
    const r7 = new _Ui();
    return r7.wrappedKey = e7, r7.algorithm = t7, r7;
  }
  read(e7) {
    let t7 = 0, r7 = e7[t7++];
    this.algorithm = r7 % 2 ? e7[t7++] : null, r7 -= r7 % 2, this.wrappedKey = N4.readExactSubarray(e7, t7, t7 + r7), t7 += r7;
  }
  write() {
    return N4.concatUint8Array([this.algorithm ? new Uint8Array([this.wrappedKey.length + 1, this.algorithm]) : new Uint8Array([this.wrappedKey.length]), this.wrappedKey]);
  }
};
async function Di(e7, t7, r7, i7, n7) {
  switch (e7) {
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.rsaEncryptSign: {
      const { n: e8, e: t8 } = r7;
      return { c: await _e(i7, e8, t8) };
    }
    case M6.publicKey.elgamal: {
      const { p: e8, g: t8, y: n8 } = r7;
      return (async function(e9, t9, r8, i8) {
        t9 = re2(t9), r8 = re2(r8), i8 = re2(i8);
        const n9 = re2(Ne2(e9, ye2(t9))), s7 = de2(Qe, t9 - Qe);
        return { c1: le2(se2(r8, s7, t9)), c2: le2(ie2(se2(i8, s7, t9) * n9, t9)) };
      })(i7, e8, t8, n8);
    }
    case M6.publicKey.ecdh: {
      const { oid: e8, Q: t8, kdfParams: s7 } = r7, { publicKey: a7, wrappedKey: o7 } = await mi(e8, s7, i7, t8, n7);
      return { V: a7, C: new Si(o7) };
    }
    case M6.publicKey.x25519:
    case M6.publicKey.x448: {
      if (t7 && !N4.isAES(t7)) throw Error("X25519 and X448 keys can only encrypt AES session keys");
      const { A: n8 } = r7, { ephemeralPublicKey: s7, wrappedKey: a7 } = await Mr(e7, i7, n8);
      return { ephemeralPublicKey: s7, C: Ui.fromObject({ algorithm: t7, wrappedKey: a7 }) };
    }
    default:
      return [];
  }
}
async function xi(e7, t7, r7, i7, n7, s7) {
  switch (e7) {
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaEncrypt: {
      const { c: e8 } = i7, { n: n8, e: a7 } = t7, { d: o7, p: c6, q: u7, u: h6 } = r7;
      return We(e8, n8, a7, o7, c6, u7, h6, s7);
    }
    case M6.publicKey.elgamal: {
      const { c1: e8, c2: n8 } = i7;
      return (async function(e9, t8, r8, i8, n9) {
        return e9 = re2(e9), t8 = re2(t8), r8 = re2(r8), ze(le2(ie2(oe2(se2(e9, i8 = re2(i8), r8), r8) * t8, r8), "be", ye2(r8)), n9);
      })(e8, n8, t7.p, r7.x, s7);
    }
    case M6.publicKey.ecdh: {
      const { oid: e8, Q: s8, kdfParams: a7 } = t7, { d: o7 } = r7, { V: c6, C: u7 } = i7;
      return bi(e8, a7, c6, u7.data, s8, o7, n7);
    }
    case M6.publicKey.x25519:
    case M6.publicKey.x448: {
      const { A: n8 } = t7, { k: s8 } = r7, { ephemeralPublicKey: a7, C: o7 } = i7;
      if (null !== o7.algorithm && !N4.isAES(o7.algorithm)) throw Error("AES session key expected");
      return Lr(e7, a7, o7.wrappedKey, n8, s8);
    }
    default:
      throw Error("Unknown public key encryption algorithm.");
  }
}
function Ii(e7, t7, r7) {
  let i7 = 0;
  switch (e7) {
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaSign: {
      const e8 = N4.readMPI(t7.subarray(i7));
      i7 += e8.length + 2;
      const r8 = N4.readMPI(t7.subarray(i7));
      i7 += r8.length + 2;
      const n7 = N4.readMPI(t7.subarray(i7));
      i7 += n7.length + 2;
      const s7 = N4.readMPI(t7.subarray(i7));
      return i7 += s7.length + 2, { read: i7, privateParams: { d: e8, p: r8, q: n7, u: s7 } };
    }
    case M6.publicKey.dsa:
    case M6.publicKey.elgamal: {
      const e8 = N4.readMPI(t7.subarray(i7));
      return i7 += e8.length + 2, { read: i7, privateParams: { x: e8 } };
    }
    case M6.publicKey.ecdsa:
    case M6.publicKey.ecdh: {
      const n7 = Fi(e7, r7.oid);
      let s7 = N4.readMPI(t7.subarray(i7));
      return i7 += s7.length + 2, s7 = N4.leftPad(s7, n7), { read: i7, privateParams: { d: s7 } };
    }
    case M6.publicKey.eddsaLegacy: {
      const n7 = Fi(e7, r7.oid);
      if (r7.oid.getName() !== M6.curve.ed25519Legacy) throw Error("Unexpected OID for eddsaLegacy");
      let s7 = N4.readMPI(t7.subarray(i7));
      return i7 += s7.length + 2, s7 = N4.leftPad(s7, n7), { read: i7, privateParams: { seed: s7 } };
    }
    case M6.publicKey.ed25519:
    case M6.publicKey.ed448: {
      const r8 = Fi(e7), n7 = N4.readExactSubarray(t7, i7, i7 + r8);
      return i7 += n7.length, { read: i7, privateParams: { seed: n7 } };
    }
    case M6.publicKey.x25519:
    case M6.publicKey.x448: {
      const r8 = Fi(e7), n7 = N4.readExactSubarray(t7, i7, i7 + r8);
      return i7 += n7.length, { read: i7, privateParams: { k: n7 } };
    }
    default:
      throw new at3("Unknown public key encryption algorithm.");
  }
}
function Ci(e7, t7) {
  const r7 = /* @__PURE__ */ new Set([M6.publicKey.ed25519, M6.publicKey.x25519, M6.publicKey.ed448, M6.publicKey.x448]), i7 = Object.keys(t7).map(((i8) => {
    const n7 = t7[i8];
    return N4.isUint8Array(n7) ? r7.has(e7) ? n7 : N4.uint8ArrayToMPI(n7) : n7.write();
  }));
  return N4.concatUint8Array(i7);
}
function Bi(e7, t7, r7) {
  switch (e7) {
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaSign:
      return (async function(e8, t8) {
        if (t8 = BigInt(t8), N4.getWebCrypto()) {
          const r9 = { name: "RSASSA-PKCS1-v1_5", modulusLength: e8, publicExponent: le2(t8), hash: { name: "SHA-1" } }, i8 = await Oe2.generateKey(r9, true, ["sign", "verify"]);
          return Xe(await Oe2.exportKey("jwk", i8.privateKey), t8);
        }
        if (N4.getNodeCrypto()) {
          const r9 = { modulusLength: e8, publicExponent: ce2(t8), publicKeyEncoding: { type: "pkcs1", format: "jwk" }, privateKeyEncoding: { type: "pkcs1", format: "jwk" } }, i8 = await new Promise(((e9, t9) => {
            je.generateKeyPair("rsa", r9, ((r10, i9, n8) => {
              r10 ? t9(r10) : e9(n8);
            }));
          }));
          return Xe(i8, t8);
        }
        let r8, i7, n7;
        do {
          i7 = me2(e8 - (e8 >> 1), t8, 40), r8 = me2(e8 >> 1, t8, 40), n7 = r8 * i7;
        } while (he2(n7) !== e8);
        const s7 = (r8 - He) * (i7 - He);
        return i7 < r8 && ([r8, i7] = [i7, r8]), { n: le2(n7), e: le2(t8), d: le2(oe2(t8, s7)), p: le2(r8), q: le2(i7), u: le2(oe2(r8, i7)) };
      })(t7, 65537).then((({ n: e8, e: t8, d: r8, p: i7, q: n7, u: s7 }) => ({ privateParams: { d: r8, p: i7, q: n7, u: s7 }, publicParams: { n: e8, e: t8 } })));
    case M6.publicKey.ecdsa:
      return Xr(r7).then((({ oid: e8, Q: t8, secret: r8 }) => ({ privateParams: { d: r8 }, publicParams: { oid: new Ze2(e8), Q: t8 } })));
    case M6.publicKey.eddsaLegacy:
      return Xr(r7).then((({ oid: e8, Q: t8, secret: r8 }) => ({ privateParams: { seed: r8 }, publicParams: { oid: new Ze2(e8), Q: t8 } })));
    case M6.publicKey.ecdh:
      return Xr(r7).then((({ oid: e8, Q: t8, secret: r8, hash: i7, cipher: n7 }) => ({ privateParams: { d: r8 }, publicParams: { oid: new Ze2(e8), Q: t8, kdfParams: new Pi({ hash: i7, cipher: n7 }) } })));
    case M6.publicKey.ed25519:
    case M6.publicKey.ed448:
      return ht3(e7).then((({ A: e8, seed: t8 }) => ({ privateParams: { seed: t8 }, publicParams: { A: e8 } })));
    case M6.publicKey.x25519:
    case M6.publicKey.x448:
      return Br(e7).then((({ A: e8, k: t8 }) => ({ privateParams: { k: t8 }, publicParams: { A: e8 } })));
    case M6.publicKey.dsa:
    case M6.publicKey.elgamal:
      throw Error("Unsupported algorithm for key generation.");
    default:
      throw Error("Unknown public key algorithm.");
  }
}
async function Ti(e7, t7, r7) {
  if (!t7 || !r7) throw Error("Missing key parameters");
  switch (e7) {
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaSign: {
      const { n: e8, e: i7 } = t7, { d: n7, p: s7, q: a7, u: o7 } = r7;
      return (async function(e9, t8, r8, i8, n8, s8) {
        if (e9 = re2(e9), (i8 = re2(i8)) * (n8 = re2(n8)) !== e9) return false;
        const a8 = BigInt(2);
        if (ie2(i8 * (s8 = re2(s8)), n8) !== BigInt(1)) return false;
        t8 = re2(t8), r8 = re2(r8);
        const o8 = de2(a8, a8 << BigInt(Math.floor(he2(e9) / 3))), c6 = o8 * r8 * t8;
        return !(ie2(c6, i8 - He) !== o8 || ie2(c6, n8 - He) !== o8);
      })(e8, i7, n7, s7, a7, o7);
    }
    case M6.publicKey.dsa: {
      const { p: e8, q: i7, g: n7, y: s7 } = t7, { x: a7 } = r7;
      return (async function(e9, t8, r8, i8, n8) {
        const s8 = re2(e9), a8 = re2(t8), o7 = re2(r8), c6 = re2(i8);
        if (o7 <= Ei || o7 >= s8) return false;
        if (ie2(s8 - Ei, a8) !== Ki) return false;
        if (se2(o7, a8, s8) !== Ei) return false;
        const u7 = BigInt(he2(a8));
        if (u7 < BigInt(150) || !we2(a8, null, 32)) return false;
        const h6 = re2(n8), y7 = BigInt(2);
        return c6 === se2(o7, a8 * de2(y7 << u7 - Ei, y7 << u7) + h6, s8);
      })(e8, i7, n7, s7, a7);
    }
    case M6.publicKey.elgamal: {
      const { p: e8, g: i7, y: n7 } = t7, { x: s7 } = r7;
      return (async function(e9, t8, r8, i8) {
        const n8 = re2(e9), s8 = re2(t8), a7 = re2(r8);
        if (s8 <= Qe || s8 >= n8) return false;
        const o7 = BigInt(he2(n8));
        if (o7 < BigInt(1023)) return false;
        if (se2(s8, n8 - Qe, n8) !== Qe) return false;
        let c6 = s8, u7 = BigInt(1);
        const h6 = BigInt(2), y7 = h6 << BigInt(17);
        for (; u7 < y7; ) {
          if (c6 = ie2(c6 * s8, n8), c6 === Qe) return false;
          u7++;
        }
        const l5 = re2(i8), p4 = de2(h6 << o7 - Qe, h6 << o7);
        return a7 === se2(s8, (n8 - Qe) * p4 + l5, n8);
      })(e8, i7, n7, s7);
    }
    case M6.publicKey.ecdsa:
    case M6.publicKey.ecdh: {
      const i7 = Ai[M6.read(M6.publicKey, e7)], { oid: n7, Q: s7 } = t7, { d: a7 } = r7;
      return i7.validateParams(n7, s7, a7);
    }
    case M6.publicKey.eddsaLegacy: {
      const { Q: e8, oid: i7 } = t7, { seed: n7 } = r7;
      return yi(i7, e8, n7);
    }
    case M6.publicKey.ed25519:
    case M6.publicKey.ed448: {
      const { A: i7 } = t7, { seed: n7 } = r7;
      return pt3(e7, i7, n7);
    }
    case M6.publicKey.x25519:
    case M6.publicKey.x448: {
      const { A: i7 } = t7, { k: n7 } = r7;
      return Tr(e7, i7, n7);
    }
    default:
      throw Error("Unknown public key algorithm.");
  }
}
function Mi(e7) {
  const { keySize: t7 } = Pr(e7);
  return ge2(t7);
}
function Li(e7) {
  try {
    e7.getName();
  } catch {
    throw new at3("Unknown curve OID");
  }
}
function Fi(e7, t7) {
  switch (e7) {
    case M6.publicKey.ecdsa:
    case M6.publicKey.ecdh:
    case M6.publicKey.eddsaLegacy:
      return new $r(t7).payloadSize;
    case M6.publicKey.ed25519:
    case M6.publicKey.ed448:
      return gt3(e7);
    case M6.publicKey.x25519:
    case M6.publicKey.x448:
      return Fr(e7);
    default:
      throw Error("Unknown elliptic algo");
  }
}
var Ni = N4.getWebCrypto();
var zi = N4.getNodeCrypto();
var Ri = zi ? zi.getCiphers() : [];
var Oi = { idea: Ri.includes("idea-cfb") ? "idea-cfb" : void 0, tripledes: Ri.includes("des-ede3-cfb") ? "des-ede3-cfb" : void 0, cast5: Ri.includes("cast5-cfb") ? "cast5-cfb" : void 0, blowfish: Ri.includes("bf-cfb") ? "bf-cfb" : void 0, aes128: Ri.includes("aes-128-cfb") ? "aes-128-cfb" : void 0, aes192: Ri.includes("aes-192-cfb") ? "aes-192-cfb" : void 0, aes256: Ri.includes("aes-256-cfb") ? "aes-256-cfb" : void 0 };
function ji(e7) {
  const { blockSize: t7 } = Pr(e7), r7 = ge2(t7), i7 = new Uint8Array([r7[r7.length - 2], r7[r7.length - 1]]);
  return N4.concat([r7, i7]);
}
async function Hi(e7, t7, r7, i7, n7) {
  const s7 = M6.read(M6.symmetric, e7);
  if (N4.getNodeCrypto() && Oi[s7]) return (function(e8, t8, r8, i8) {
    const n8 = M6.read(M6.symmetric, e8), s8 = new zi.createCipheriv(Oi[n8], t8, i8);
    return b4(r8, ((e9) => new Uint8Array(s8.update(e9))));
  })(e7, t7, r7, i7);
  if (N4.isAES(e7)) return (async function(e8, t8, r8, i8) {
    if (Ni && await qi.isSupported(e8)) {
      const n8 = new qi(e8, t8, i8);
      return N4.isStream(r8) ? k5(r8, ((e9) => n8.encryptChunk(e9)), (() => n8.finish())) : n8.encrypt(r8);
    }
    if (N4.isStream(r8)) {
      const n8 = new _i(true, e8, t8, i8);
      return k5(r8, ((e9) => n8.processChunk(e9)), (() => n8.finish()));
    }
    return pr(t8, i8).encrypt(r8);
  })(e7, t7, r7, i7);
  const a7 = new (await Kr(e7))(t7), o7 = a7.blockSize, c6 = i7.slice();
  let u7 = new Uint8Array();
  const h6 = (e8) => {
    e8 && (u7 = N4.concatUint8Array([u7, e8]));
    const t8 = new Uint8Array(u7.length);
    let r8, i8 = 0;
    for (; e8 ? u7.length >= o7 : u7.length; ) {
      const e9 = a7.encrypt(c6);
      for (r8 = 0; r8 < o7; r8++) c6[r8] = u7[r8] ^ e9[r8], t8[i8++] = c6[r8];
      u7 = u7.subarray(o7);
    }
    return t8.subarray(0, i8);
  };
  return b4(r7, h6, h6);
}
async function Gi(e7, t7, r7, i7) {
  const n7 = M6.read(M6.symmetric, e7);
  if (zi && Oi[n7]) return (function(e8, t8, r8, i8) {
    const n8 = M6.read(M6.symmetric, e8), s8 = new zi.createDecipheriv(Oi[n8], t8, i8);
    return b4(r8, ((e9) => new Uint8Array(s8.update(e9))));
  })(e7, t7, r7, i7);
  if (N4.isAES(e7)) return (function(e8, t8, r8, i8) {
    if (N4.isStream(r8)) {
      const n8 = new _i(false, e8, t8, i8);
      return k5(r8, ((e9) => n8.processChunk(e9)), (() => n8.finish()));
    }
    return pr(t8, i8).decrypt(r8);
  })(e7, t7, r7, i7);
  const s7 = new (await Kr(e7))(t7), a7 = s7.blockSize;
  let o7 = i7, c6 = new Uint8Array();
  const u7 = (e8) => {
    e8 && (c6 = N4.concatUint8Array([c6, e8]));
    const t8 = new Uint8Array(c6.length);
    let r8, i8 = 0;
    for (; e8 ? c6.length >= a7 : c6.length; ) {
      const e9 = s7.encrypt(o7);
      for (o7 = c6.subarray(0, a7), r8 = 0; r8 < a7; r8++) t8[i8++] = o7[r8] ^ e9[r8];
      c6 = c6.subarray(a7);
    }
    return t8.subarray(0, i8);
  };
  return b4(r7, u7, u7);
}
var qi = class {
  constructor(e7, t7, r7) {
    const { blockSize: i7 } = Pr(e7);
    this.key = t7, this.iv = r7, this.prevBlock = r7.slice(), this.nextBlock = new Uint8Array(i7), this.i = 0, this.blockSize = i7, this.zeroBlock = new Uint8Array(this.blockSize);
  }
  static isSupported(e7) {
    const { keySize: t7 } = Pr(e7);
    return Ni.importKey("raw", new Uint8Array(t7), "aes-cbc", false, ["encrypt"]).then((() => true), (() => false));
  }
  async _runCBC(e7, t7) {
    const r7 = "AES-CBC";
    this.keyRef = this.keyRef || await Ni.importKey("raw", this.key, r7, false, ["encrypt"]);
    const i7 = await Ni.encrypt({ name: r7, iv: t7 || this.zeroBlock }, this.keyRef, e7);
    return new Uint8Array(i7).subarray(0, e7.length);
  }
  async encryptChunk(e7) {
    const t7 = this.nextBlock.length - this.i, r7 = e7.subarray(0, t7);
    if (this.nextBlock.set(r7, this.i), this.i + e7.length >= 2 * this.blockSize) {
      const r8 = (e7.length - t7) % this.blockSize, i8 = N4.concatUint8Array([this.nextBlock, e7.subarray(t7, e7.length - r8)]), n7 = N4.concatUint8Array([this.prevBlock, i8.subarray(0, i8.length - this.blockSize)]), s7 = await this._runCBC(n7);
      return Wi(s7, i8), this.prevBlock = s7.slice(-this.blockSize), r8 > 0 && this.nextBlock.set(e7.subarray(-r8)), this.i = r8, s7;
    }
    let i7;
    if (this.i += r7.length, this.i === this.nextBlock.length) {
      const t8 = this.nextBlock;
      i7 = await this._runCBC(this.prevBlock), Wi(i7, t8), this.prevBlock = i7.slice(), this.i = 0;
      const n7 = e7.subarray(r7.length);
      this.nextBlock.set(n7, this.i), this.i += n7.length;
    } else i7 = new Uint8Array();
    return i7;
  }
  async finish() {
    let e7;
    if (0 === this.i) e7 = new Uint8Array();
    else {
      this.nextBlock = this.nextBlock.subarray(0, this.i);
      const t7 = this.nextBlock, r7 = await this._runCBC(this.prevBlock);
      Wi(r7, t7), e7 = r7.subarray(0, t7.length);
    }
    return this.clearSensitiveData(), e7;
  }
  clearSensitiveData() {
    this.nextBlock.fill(0), this.prevBlock.fill(0), this.keyRef = null, this.key = null;
  }
  async encrypt(e7) {
    const t7 = (await this._runCBC(N4.concatUint8Array([new Uint8Array(this.blockSize), e7]), this.iv)).subarray(0, e7.length);
    return Wi(t7, e7), this.clearSensitiveData(), t7;
  }
};
var _i = class {
  constructor(e7, t7, r7, i7) {
    this.forEncryption = e7;
    const { blockSize: n7 } = Pr(t7);
    this.key = Ar.expandKeyLE(r7), i7.byteOffset % 4 != 0 && (i7 = i7.slice()), this.prevBlock = Vi(i7), this.nextBlock = new Uint8Array(n7), this.i = 0, this.blockSize = n7;
  }
  _runCFB(e7) {
    const t7 = Vi(e7), r7 = new Uint8Array(e7.length), i7 = Vi(r7);
    for (let e8 = 0; e8 + 4 <= i7.length; e8 += 4) {
      const { s0: r8, s1: n7, s2: s7, s3: a7 } = Ar.encrypt(this.key, this.prevBlock[0], this.prevBlock[1], this.prevBlock[2], this.prevBlock[3]);
      i7[e8 + 0] = t7[e8 + 0] ^ r8, i7[e8 + 1] = t7[e8 + 1] ^ n7, i7[e8 + 2] = t7[e8 + 2] ^ s7, i7[e8 + 3] = t7[e8 + 3] ^ a7, this.prevBlock = (this.forEncryption ? i7 : t7).slice(e8, e8 + 4);
    }
    return r7;
  }
  async processChunk(e7) {
    const t7 = this.nextBlock.length - this.i, r7 = e7.subarray(0, t7);
    if (this.nextBlock.set(r7, this.i), this.i + e7.length >= 2 * this.blockSize) {
      const r8 = (e7.length - t7) % this.blockSize, i8 = N4.concatUint8Array([this.nextBlock, e7.subarray(t7, e7.length - r8)]), n7 = this._runCFB(i8);
      return r8 > 0 && this.nextBlock.set(e7.subarray(-r8)), this.i = r8, n7;
    }
    let i7;
    if (this.i += r7.length, this.i === this.nextBlock.length) {
      i7 = this._runCFB(this.nextBlock), this.i = 0;
      const t8 = e7.subarray(r7.length);
      this.nextBlock.set(t8, this.i), this.i += t8.length;
    } else i7 = new Uint8Array();
    return i7;
  }
  async finish() {
    let e7;
    if (0 === this.i) e7 = new Uint8Array();
    else {
      e7 = this._runCFB(this.nextBlock).subarray(0, this.i);
    }
    return this.clearSensitiveData(), e7;
  }
  clearSensitiveData() {
    this.nextBlock.fill(0), this.prevBlock.fill(0), this.key.fill(0);
  }
};
function Wi(e7, t7) {
  const r7 = Math.min(e7.length, t7.length);
  for (let i7 = 0; i7 < r7; i7++) e7[i7] = e7[i7] ^ t7[i7];
}
var Vi = (e7) => new Uint32Array(e7.buffer, e7.byteOffset, Math.floor(e7.byteLength / 4));
var $i = N4.getWebCrypto();
var Xi = N4.getNodeCrypto();
var Qi = 16;
function Yi(e7, t7) {
  const r7 = e7.length - Qi;
  for (let i7 = 0; i7 < Qi; i7++) e7[i7 + r7] ^= t7[i7];
  return e7;
}
var Zi = new Uint8Array(Qi);
async function Ji(e7) {
  const t7 = await en(e7), r7 = N4.double(await t7(Zi)), i7 = N4.double(r7);
  return async function(e8) {
    return (await t7((function(e9, t8, r8) {
      if (e9.length && e9.length % Qi == 0) return Yi(e9, t8);
      const i8 = new Uint8Array(e9.length + (Qi - e9.length % Qi));
      return i8.set(e9), i8[e9.length] = 128, Yi(i8, r8);
    })(e8, r7, i7))).subarray(-16);
  };
}
async function en(e7) {
  if (N4.getNodeCrypto()) return async function(t7) {
    const r7 = new Xi.createCipheriv("aes-" + 8 * e7.length + "-cbc", e7, Zi).update(t7);
    return new Uint8Array(r7);
  };
  if (N4.getWebCrypto()) try {
    return e7 = await $i.importKey("raw", e7, { name: "AES-CBC", length: 8 * e7.length }, false, ["encrypt"]), async function(t7) {
      const r7 = await $i.encrypt({ name: "AES-CBC", iv: Zi, length: 128 }, e7, t7);
      return new Uint8Array(r7).subarray(0, r7.byteLength - Qi);
    };
  } catch (t7) {
    if ("NotSupportedError" !== t7.name && (24 !== e7.length || "OperationError" !== t7.name)) throw t7;
    N4.printDebugError("Browser did not support operation: " + t7.message);
  }
  return async function(t7) {
    return lr(e7, Zi, { disablePadding: true }).encrypt(t7);
  };
}
var tn = N4.getWebCrypto();
var rn = N4.getNodeCrypto();
var nn = N4.getNodeBuffer();
var sn = 16;
var an = sn;
var on = new Uint8Array(sn);
var cn = new Uint8Array(sn);
cn[15] = 1;
var un = new Uint8Array(sn);
async function hn(e7) {
  const t7 = await Ji(e7);
  return function(e8, r7) {
    return t7(N4.concatUint8Array([e8, r7]));
  };
}
async function yn(e7) {
  if (N4.getNodeCrypto()) return async function(t7, r7) {
    const i7 = new rn.createCipheriv("aes-" + 8 * e7.length + "-ctr", e7, r7), n7 = nn.concat([i7.update(t7), i7.final()]);
    return new Uint8Array(n7);
  };
  if (N4.getWebCrypto()) try {
    const t7 = await tn.importKey("raw", e7, { name: "AES-CTR", length: 8 * e7.length }, false, ["encrypt"]);
    return async function(e8, r7) {
      const i7 = await tn.encrypt({ name: "AES-CTR", counter: r7, length: 128 }, t7, e8);
      return new Uint8Array(i7);
    };
  } catch (t7) {
    if ("NotSupportedError" !== t7.name && (24 !== e7.length || "OperationError" !== t7.name)) throw t7;
    N4.printDebugError("Browser did not support operation: " + t7.message);
  }
  return async function(t7, r7) {
    return yr(e7, r7).encrypt(t7);
  };
}
async function ln(e7, t7) {
  if (e7 !== M6.symmetric.aes128 && e7 !== M6.symmetric.aes192 && e7 !== M6.symmetric.aes256) throw Error("EAX mode supports only AES cipher");
  const [r7, i7] = await Promise.all([hn(t7), yn(t7)]);
  return { encrypt: async function(e8, t8, n7) {
    const [s7, a7] = await Promise.all([r7(on, t8), r7(cn, n7)]), o7 = await i7(e8, s7), c6 = await r7(un, o7);
    for (let e9 = 0; e9 < an; e9++) c6[e9] ^= a7[e9] ^ s7[e9];
    return N4.concatUint8Array([o7, c6]);
  }, decrypt: async function(e8, t8, n7) {
    if (e8.length < an) throw Error("Invalid EAX ciphertext");
    const s7 = e8.subarray(0, -16), a7 = e8.subarray(-16), [o7, c6, u7] = await Promise.all([r7(on, t8), r7(cn, n7), r7(un, s7)]), h6 = u7;
    for (let e9 = 0; e9 < an; e9++) h6[e9] ^= c6[e9] ^ o7[e9];
    if (!N4.timingSafeEqualsUint8Array(a7, h6)) throw Error("Authentication tag mismatch");
    return await i7(s7, o7);
  } };
}
un[15] = 2, ln.getNonce = function(e7, t7) {
  const r7 = e7.slice();
  for (let e8 = 0; e8 < t7.length; e8++) r7[8 + e8] ^= t7[e8];
  return r7;
}, ln.blockLength = sn, ln.ivLength = 16, ln.tagLength = an;
var pn = 16;
var gn = 16;
function dn(e7) {
  let t7 = 0;
  for (let r7 = 1; !(e7 & r7); r7 <<= 1) t7++;
  return t7;
}
function fn(e7, t7) {
  for (let r7 = 0; r7 < e7.length; r7++) e7[r7] ^= t7[r7];
  return e7;
}
function mn(e7, t7) {
  return fn(e7.slice(), t7);
}
var wn = new Uint8Array(pn);
var bn = new Uint8Array([1]);
async function kn(e7, t7) {
  const { keySize: r7 } = Pr(e7);
  if (!N4.isAES(e7) || t7.length !== r7) throw Error("Unexpected algorithm or key size");
  let i7 = 0;
  const n7 = (e8) => lr(t7, wn, { disablePadding: true }).encrypt(e8), s7 = (e8) => lr(t7, wn, { disablePadding: true }).decrypt(e8);
  let a7;
  function o7(e8, t8, r8, s8) {
    const o8 = t8.length / pn | 0;
    !(function(e9, t9) {
      const r9 = N4.nbits(Math.max(e9.length, t9.length) / pn | 0) - 1;
      for (let e10 = i7 + 1; e10 <= r9; e10++) a7[e10] = N4.double(a7[e10 - 1]);
      i7 = r9;
    })(t8, s8);
    const c6 = N4.concatUint8Array([wn.subarray(0, 15 - r8.length), bn, r8]), u7 = 63 & c6[15];
    c6[15] &= 192;
    const h6 = n7(c6), y7 = N4.concatUint8Array([h6, mn(h6.subarray(0, 8), h6.subarray(1, 9))]), l5 = N4.shiftRight(y7.subarray(0 + (u7 >> 3), 17 + (u7 >> 3)), 8 - (7 & u7)).subarray(1), p4 = new Uint8Array(pn), g6 = new Uint8Array(t8.length + gn);
    let d5, f7 = 0;
    for (d5 = 0; d5 < o8; d5++) fn(l5, a7[dn(d5 + 1)]), g6.set(fn(e8(mn(l5, t8)), l5), f7), fn(p4, e8 === n7 ? t8 : g6.subarray(f7)), t8 = t8.subarray(pn), f7 += pn;
    if (t8.length) {
      fn(l5, a7.x);
      const r9 = n7(l5);
      g6.set(mn(t8, r9), f7);
      const i8 = new Uint8Array(pn);
      i8.set(e8 === n7 ? t8 : g6.subarray(f7, -16), 0), i8[t8.length] = 128, fn(p4, i8), f7 += t8.length;
    }
    const m5 = fn(n7(fn(fn(p4, l5), a7.$)), (function(e9) {
      if (!e9.length) return wn;
      const t9 = e9.length / pn | 0, r9 = new Uint8Array(pn), i8 = new Uint8Array(pn);
      for (let s9 = 0; s9 < t9; s9++) fn(r9, a7[dn(s9 + 1)]), fn(i8, n7(mn(r9, e9))), e9 = e9.subarray(pn);
      if (e9.length) {
        fn(r9, a7.x);
        const t10 = new Uint8Array(pn);
        t10.set(e9, 0), t10[e9.length] = 128, fn(t10, r9), fn(i8, n7(t10));
      }
      return i8;
    })(s8));
    return g6.set(m5, f7), g6;
  }
  return (function() {
    const e8 = n7(wn), t8 = N4.double(e8);
    a7 = [], a7[0] = N4.double(t8), a7.x = e8, a7.$ = t8;
  })(), { encrypt: async function(e8, t8, r8) {
    return o7(n7, e8, t8, r8);
  }, decrypt: async function(e8, t8, r8) {
    if (e8.length < gn) throw Error("Invalid OCB ciphertext");
    const i8 = e8.subarray(-16);
    e8 = e8.subarray(0, -16);
    const n8 = o7(s7, e8, t8, r8);
    if (N4.timingSafeEqualsUint8Array(i8, n8.subarray(-16))) return n8.subarray(0, -16);
    throw Error("Authentication tag mismatch");
  } };
}
kn.getNonce = function(e7, t7) {
  const r7 = e7.slice();
  for (let e8 = 0; e8 < t7.length; e8++) r7[7 + e8] ^= t7[e8];
  return r7;
}, kn.blockLength = pn, kn.ivLength = 15, kn.tagLength = gn;
var vn = N4.getWebCrypto();
var An = N4.getNodeCrypto();
var Kn = N4.getNodeBuffer();
var En = 16;
var Sn = "AES-GCM";
async function Pn(e7, t7) {
  if (e7 !== M6.symmetric.aes128 && e7 !== M6.symmetric.aes192 && e7 !== M6.symmetric.aes256) throw Error("GCM mode supports only AES cipher");
  if (N4.getNodeCrypto()) return { encrypt: async function(e8, r7, i7 = new Uint8Array()) {
    const n7 = new An.createCipheriv("aes-" + 8 * t7.length + "-gcm", t7, r7);
    n7.setAAD(i7);
    const s7 = Kn.concat([n7.update(e8), n7.final(), n7.getAuthTag()]);
    return new Uint8Array(s7);
  }, decrypt: async function(e8, r7, i7 = new Uint8Array()) {
    const n7 = new An.createDecipheriv("aes-" + 8 * t7.length + "-gcm", t7, r7);
    n7.setAAD(i7), n7.setAuthTag(e8.slice(e8.length - En, e8.length));
    const s7 = Kn.concat([n7.update(e8.slice(0, e8.length - En)), n7.final()]);
    return new Uint8Array(s7);
  } };
  if (N4.getWebCrypto()) try {
    const e8 = await vn.importKey("raw", t7, { name: Sn }, false, ["encrypt", "decrypt"]), r7 = navigator.userAgent.match(/Version\/13\.\d(\.\d)* Safari/) || navigator.userAgent.match(/Version\/(13|14)\.\d(\.\d)* Mobile\/\S* Safari/);
    return { encrypt: async function(i7, n7, s7 = new Uint8Array()) {
      if (r7 && !i7.length) return dr(t7, n7, s7).encrypt(i7);
      const a7 = await vn.encrypt({ name: Sn, iv: n7, additionalData: s7, tagLength: 128 }, e8, i7);
      return new Uint8Array(a7);
    }, decrypt: async function(i7, n7, s7 = new Uint8Array()) {
      if (r7 && i7.length === En) return dr(t7, n7, s7).decrypt(i7);
      try {
        const t8 = await vn.decrypt({ name: Sn, iv: n7, additionalData: s7, tagLength: 128 }, e8, i7);
        return new Uint8Array(t8);
      } catch (e9) {
        if ("OperationError" === e9.name) throw Error("Authentication tag mismatch");
      }
    } };
  } catch (e8) {
    if ("NotSupportedError" !== e8.name && (24 !== t7.length || "OperationError" !== e8.name)) throw e8;
    N4.printDebugError("Browser did not support operation: " + e8.message);
  }
  return { encrypt: async function(e8, r7, i7) {
    return dr(t7, r7, i7).encrypt(e8);
  }, decrypt: async function(e8, r7, i7) {
    return dr(t7, r7, i7).decrypt(e8);
  } };
}
function Un(e7, t7 = false) {
  switch (e7) {
    case M6.aead.eax:
      return ln;
    case M6.aead.ocb:
      return kn;
    case M6.aead.gcm:
      return Pn;
    case M6.aead.experimentalGCM:
      if (!t7) throw Error("Unexpected non-standard `experimentalGCM` AEAD algorithm provided in `config.preferredAEADAlgorithm`: use `gcm` instead");
      return Pn;
    default:
      throw Error("Unsupported AEAD mode");
  }
}
async function Dn(e7, t7, r7, i7, n7, s7) {
  switch (e7) {
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.rsaSign: {
      const { n: e8, e: a7 } = i7;
      return qe2(t7, n7, N4.leftPad(r7.s, e8.length), e8, a7, s7);
    }
    case M6.publicKey.dsa: {
      const { g: e8, p: t8, q: n8, y: a7 } = i7, { r: o7, s: c6 } = r7;
      return (async function(e9, t9, r8, i8, n9, s8, a8, o8) {
        if (t9 = re2(t9), r8 = re2(r8), s8 = re2(s8), a8 = re2(a8), n9 = re2(n9), o8 = re2(o8), t9 <= Ki || t9 >= a8 || r8 <= Ki || r8 >= a8) return N4.printDebug("invalid DSA Signature"), false;
        const c7 = ie2(re2(i8.subarray(0, ye2(a8))), a8), u7 = oe2(r8, a8);
        if (u7 === Ki) return N4.printDebug("invalid DSA Signature"), false;
        n9 = ie2(n9, s8), o8 = ie2(o8, s8);
        const h6 = ie2(c7 * u7, a8), y7 = ie2(t9 * u7, a8);
        return ie2(ie2(se2(n9, h6, s8) * se2(o8, y7, s8), s8), a8) === t9;
      })(0, o7, c6, s7, e8, t8, n8, a7);
    }
    case M6.publicKey.ecdsa: {
      const { oid: e8, Q: a7 } = i7, o7 = new $r(e8).payloadSize;
      return ai(e8, t7, { r: N4.leftPad(r7.r, o7), s: N4.leftPad(r7.s, o7) }, n7, a7, s7);
    }
    case M6.publicKey.eddsaLegacy: {
      const { oid: e8, Q: n8 } = i7, a7 = new $r(e8).payloadSize;
      return hi(e8, t7, { r: N4.leftPad(r7.r, a7), s: N4.leftPad(r7.s, a7) }, 0, n8, s7);
    }
    case M6.publicKey.ed25519:
    case M6.publicKey.ed448: {
      const { A: n8 } = i7;
      return lt3(e7, t7, r7, 0, n8, s7);
    }
    default:
      throw Error("Unknown signature algorithm.");
  }
}
async function xn(e7, t7, r7, i7, n7, s7) {
  if (!r7 || !i7) throw Error("Missing key parameters");
  switch (e7) {
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.rsaSign: {
      const { n: e8, e: a7 } = r7, { d: o7, p: c6, q: u7, u: h6 } = i7;
      return { s: await Ge(t7, n7, e8, a7, o7, c6, u7, h6, s7) };
    }
    case M6.publicKey.dsa: {
      const { g: e8, p: t8, q: n8 } = r7, { x: a7 } = i7;
      return (async function(e9, t9, r8, i8, n9, s8) {
        const a8 = BigInt(0);
        let o7, c6, u7, h6;
        i8 = re2(i8), n9 = re2(n9), r8 = re2(r8), s8 = re2(s8), r8 = ie2(r8, i8), s8 = ie2(s8, n9);
        const y7 = ie2(re2(t9.subarray(0, ye2(n9))), n9);
        for (; ; ) {
          if (o7 = de2(Ei, n9), c6 = ie2(se2(r8, o7, i8), n9), c6 === a8) continue;
          const e10 = ie2(s8 * c6, n9);
          if (h6 = ie2(y7 + e10, n9), u7 = ie2(oe2(o7, n9) * h6, n9), u7 !== a8) break;
        }
        return { r: le2(c6, "be", ye2(i8)), s: le2(u7, "be", ye2(i8)) };
      })(0, s7, e8, t8, n8, a7);
    }
    case M6.publicKey.elgamal:
      throw Error("Signing with Elgamal is not defined in the OpenPGP standard.");
    case M6.publicKey.ecdsa: {
      const { oid: e8, Q: a7 } = r7, { d: o7 } = i7;
      return si(e8, t7, n7, a7, o7, s7);
    }
    case M6.publicKey.eddsaLegacy: {
      const { oid: e8, Q: n8 } = r7, { seed: a7 } = i7;
      return ui(e8, t7, 0, n8, a7, s7);
    }
    case M6.publicKey.ed25519:
    case M6.publicKey.ed448: {
      const { A: n8 } = r7, { seed: a7 } = i7;
      return yt3(e7, t7, 0, n8, a7, s7);
    }
    default:
      throw Error("Unknown signature algorithm.");
  }
}
Pn.getNonce = function(e7, t7) {
  const r7 = e7.slice();
  for (let e8 = 0; e8 < t7.length; e8++) r7[4 + e8] ^= t7[e8];
  return r7;
}, Pn.blockLength = 16, Pn.ivLength = 12, Pn.tagLength = En;
var In = class _In extends Error {
  constructor(...e7) {
    super(...e7), Error.captureStackTrace && Error.captureStackTrace(this, _In), this.name = "Argon2OutOfMemoryError";
  }
};
var Cn;
var Bn;
var Tn = class {
  constructor(e7 = L3) {
    const { passes: t7, parallelism: r7, memoryExponent: i7 } = e7.s2kArgon2Params;
    this.type = "argon2", this.salt = null, this.t = t7, this.p = r7, this.encodedM = i7;
  }
  generateSalt() {
    this.salt = ge2(16);
  }
  read(e7) {
    let t7 = 0;
    return this.salt = e7.subarray(t7, t7 + 16), t7 += 16, this.t = e7[t7++], this.p = e7[t7++], this.encodedM = e7[t7++], t7;
  }
  write() {
    const e7 = [new Uint8Array([M6.write(M6.s2k, this.type)]), this.salt, new Uint8Array([this.t, this.p, this.encodedM])];
    return N4.concatUint8Array(e7);
  }
  async produceKey(e7, t7, r7) {
    if (r7.maxArgon2MemoryExponent > 30) throw new In("'config.maxArgon2MemoryExponent' exceeds the max allowed value of 30");
    if (this.encodedM > r7.maxArgon2MemoryExponent) throw new In("Argon2 required memory exceeds `config.maxArgon2MemoryExponent`");
    const i7 = 1 << this.encodedM;
    try {
      Cn = Cn || (await Promise.resolve().then(() => (init_argon2id_min(), argon2id_min_exports))).default, Bn = Bn || Cn();
      const r8 = await Bn, n7 = r8({ version: 19, type: 2, password: N4.encodeUTF8(e7), salt: this.salt, tagLength: t7, memorySize: i7, parallelism: this.p, passes: this.t });
      return i7 > 1048576 && (Bn = Cn(), Bn.catch((() => {
      }))), n7;
    } catch (e8) {
      throw e8.message && (e8.message.includes("Unable to grow instance memory") || e8.message.includes("failed to grow memory") || e8.message.includes("WebAssembly.Memory.grow") || e8.message.includes("Out of memory")) ? new In("Could not allocate required memory for Argon2") : e8;
    }
  }
};
var Mn = class {
  constructor(e7, t7 = L3) {
    this.algorithm = M6.hash.sha256, this.type = M6.read(M6.s2k, e7), this.c = t7.s2kIterationCountByte, this.salt = null;
  }
  generateSalt() {
    switch (this.type) {
      case "salted":
      case "iterated":
        this.salt = ge2(8);
    }
  }
  getCount() {
    return 16 + (15 & this.c) << 6 + (this.c >> 4);
  }
  read(e7) {
    let t7 = 0;
    switch (this.algorithm = e7[t7++], this.type) {
      case "simple":
        break;
      case "salted":
        this.salt = e7.subarray(t7, t7 + 8), t7 += 8;
        break;
      case "iterated":
        this.salt = e7.subarray(t7, t7 + 8), t7 += 8, this.c = e7[t7++];
        break;
      case "gnu":
        if ("GNU" !== N4.uint8ArrayToString(e7.subarray(t7, t7 + 3))) throw new at3("Unknown s2k type.");
        t7 += 3;
        if (1001 !== 1e3 + e7[t7++]) throw new at3("Unknown s2k gnu protection mode.");
        this.type = "gnu-dummy";
        break;
      default:
        throw new at3("Unknown s2k type.");
    }
    return t7;
  }
  write() {
    if ("gnu-dummy" === this.type) return new Uint8Array([101, 0, ...N4.stringToUint8Array("GNU"), 1]);
    const e7 = [new Uint8Array([M6.write(M6.s2k, this.type), this.algorithm])];
    switch (this.type) {
      case "simple":
        break;
      case "salted":
        e7.push(this.salt);
        break;
      case "iterated":
        e7.push(this.salt), e7.push(new Uint8Array([this.c]));
        break;
      case "gnu":
        throw Error("GNU s2k type not supported.");
      default:
        throw Error("Unknown s2k type.");
    }
    return N4.concatUint8Array(e7);
  }
  async produceKey(e7, t7, r7) {
    e7 = N4.encodeUTF8(e7);
    const i7 = [];
    let n7 = 0, s7 = 0;
    for (; n7 < t7; ) {
      let t8;
      switch (this.type) {
        case "simple":
          t8 = N4.concatUint8Array([new Uint8Array(s7), e7]);
          break;
        case "salted":
          t8 = N4.concatUint8Array([new Uint8Array(s7), this.salt, e7]);
          break;
        case "iterated": {
          const r9 = N4.concatUint8Array([this.salt, e7]);
          let i8 = r9.length;
          const n8 = Math.max(this.getCount(), i8);
          t8 = new Uint8Array(s7 + n8), t8.set(r9, s7);
          for (let e8 = s7 + i8; e8 < n8; e8 += i8, i8 *= 2) t8.copyWithin(e8, s7, e8);
          break;
        }
        case "gnu":
          throw Error("GNU s2k type not supported.");
        default:
          throw Error("Unknown s2k type.");
      }
      const r8 = await Me(this.algorithm, t8);
      i7.push(r8), n7 += r8.length, s7++;
    }
    return N4.concatUint8Array(i7).subarray(0, t7);
  }
};
var Ln = /* @__PURE__ */ new Set([M6.s2k.argon2, M6.s2k.iterated]);
function Fn(e7, t7 = L3) {
  switch (e7) {
    case M6.s2k.argon2:
      return new Tn(t7);
    case M6.s2k.iterated:
    case M6.s2k.gnu:
    case M6.s2k.salted:
    case M6.s2k.simple:
      return new Mn(e7, t7);
    default:
      throw new at3("Unsupported S2K type");
  }
}
function Nn(e7) {
  const { s2kType: t7 } = e7;
  if (!Ln.has(t7)) throw Error("The provided `config.s2kType` value is not allowed");
  return Fn(t7, e7);
}
var zn = Uint8Array;
var Rn = Uint16Array;
var On = Int32Array;
var jn = new zn([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0, 0, 0, 0]);
var Hn = new zn([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 0, 0]);
var Gn = new zn([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);
var qn = function(e7, t7) {
  for (var r7 = new Rn(31), i7 = 0; i7 < 31; ++i7) r7[i7] = t7 += 1 << e7[i7 - 1];
  var n7 = new On(r7[30]);
  for (i7 = 1; i7 < 30; ++i7) for (var s7 = r7[i7]; s7 < r7[i7 + 1]; ++s7) n7[s7] = s7 - r7[i7] << 5 | i7;
  return { b: r7, r: n7 };
};
var _n = qn(jn, 2);
var Wn = _n.b;
var Vn = _n.r;
Wn[28] = 258, Vn[258] = 28;
for ($n = qn(Hn, 0), Xn = $n.b, Qn = $n.r, Yn = new Rn(32768), Zn = 0; Zn < 32768; ++Zn) {
  Jn = (43690 & Zn) >> 1 | (21845 & Zn) << 1;
  Jn = (61680 & (Jn = (52428 & Jn) >> 2 | (13107 & Jn) << 2)) >> 4 | (3855 & Jn) << 4, Yn[Zn] = ((65280 & Jn) >> 8 | (255 & Jn) << 8) >> 1;
}
var Jn;
var $n;
var Xn;
var Qn;
var Yn;
var Zn;
var es = function(e7, t7, r7) {
  for (var i7 = e7.length, n7 = 0, s7 = new Rn(t7); n7 < i7; ++n7) e7[n7] && ++s7[e7[n7] - 1];
  var a7, o7 = new Rn(t7);
  for (n7 = 1; n7 < t7; ++n7) o7[n7] = o7[n7 - 1] + s7[n7 - 1] << 1;
  if (r7) {
    a7 = new Rn(1 << t7);
    var c6 = 15 - t7;
    for (n7 = 0; n7 < i7; ++n7) if (e7[n7]) for (var u7 = n7 << 4 | e7[n7], h6 = t7 - e7[n7], y7 = o7[e7[n7] - 1]++ << h6, l5 = y7 | (1 << h6) - 1; y7 <= l5; ++y7) a7[Yn[y7] >> c6] = u7;
  } else for (a7 = new Rn(i7), n7 = 0; n7 < i7; ++n7) e7[n7] && (a7[n7] = Yn[o7[e7[n7] - 1]++] >> 15 - e7[n7]);
  return a7;
};
var ts = new zn(288);
for (Zn = 0; Zn < 144; ++Zn) ts[Zn] = 8;
for (Zn = 144; Zn < 256; ++Zn) ts[Zn] = 9;
for (Zn = 256; Zn < 280; ++Zn) ts[Zn] = 7;
for (Zn = 280; Zn < 288; ++Zn) ts[Zn] = 8;
var rs = new zn(32);
for (Zn = 0; Zn < 32; ++Zn) rs[Zn] = 5;
var is = /* @__PURE__ */ es(ts, 9, 0);
var ns = /* @__PURE__ */ es(ts, 9, 1);
var ss = /* @__PURE__ */ es(rs, 5, 0);
var as = /* @__PURE__ */ es(rs, 5, 1);
var os = function(e7) {
  for (var t7 = e7[0], r7 = 1; r7 < e7.length; ++r7) e7[r7] > t7 && (t7 = e7[r7]);
  return t7;
};
var cs = function(e7, t7, r7) {
  var i7 = t7 / 8 | 0;
  return (e7[i7] | e7[i7 + 1] << 8) >> (7 & t7) & r7;
};
var us = function(e7, t7) {
  var r7 = t7 / 8 | 0;
  return (e7[r7] | e7[r7 + 1] << 8 | e7[r7 + 2] << 16) >> (7 & t7);
};
var hs = function(e7) {
  return (e7 + 7) / 8 | 0;
};
var ys = function(e7, t7, r7) {
  return (null == t7 || t7 < 0) && (t7 = 0), (null == r7 || r7 > e7.length) && (r7 = e7.length), new zn(e7.subarray(t7, r7));
};
var ls = ["unexpected EOF", "invalid block type", "invalid length/literal", "invalid distance", "stream finished", "no stream handler", , "no callback", "invalid UTF-8 data", "extra field too long", "date not in range 1980-2099", "filename too long", "stream finishing", "invalid zip data"];
var ps = function(e7, t7, r7) {
  var i7 = Error(t7 || ls[e7]);
  if (i7.code = e7, Error.captureStackTrace && Error.captureStackTrace(i7, ps), !r7) throw i7;
  return i7;
};
var gs = function(e7, t7, r7) {
  r7 <<= 7 & t7;
  var i7 = t7 / 8 | 0;
  e7[i7] |= r7, e7[i7 + 1] |= r7 >> 8;
};
var ds = function(e7, t7, r7) {
  r7 <<= 7 & t7;
  var i7 = t7 / 8 | 0;
  e7[i7] |= r7, e7[i7 + 1] |= r7 >> 8, e7[i7 + 2] |= r7 >> 16;
};
var fs = function(e7, t7) {
  for (var r7 = [], i7 = 0; i7 < e7.length; ++i7) e7[i7] && r7.push({ s: i7, f: e7[i7] });
  var n7 = r7.length, s7 = r7.slice();
  if (!n7) return { t: Ks, l: 0 };
  if (1 == n7) {
    var a7 = new zn(r7[0].s + 1);
    return a7[r7[0].s] = 1, { t: a7, l: 1 };
  }
  r7.sort((function(e8, t8) {
    return e8.f - t8.f;
  })), r7.push({ s: -1, f: 25001 });
  var o7 = r7[0], c6 = r7[1], u7 = 0, h6 = 1, y7 = 2;
  for (r7[0] = { s: -1, f: o7.f + c6.f, l: o7, r: c6 }; h6 != n7 - 1; ) o7 = r7[r7[u7].f < r7[y7].f ? u7++ : y7++], c6 = r7[u7 != h6 && r7[u7].f < r7[y7].f ? u7++ : y7++], r7[h6++] = { s: -1, f: o7.f + c6.f, l: o7, r: c6 };
  var l5 = s7[0].s;
  for (i7 = 1; i7 < n7; ++i7) s7[i7].s > l5 && (l5 = s7[i7].s);
  var p4 = new Rn(l5 + 1), g6 = ms(r7[h6 - 1], p4, 0);
  if (g6 > t7) {
    i7 = 0;
    var d5 = 0, f7 = g6 - t7, m5 = 1 << f7;
    for (s7.sort((function(e8, t8) {
      return p4[t8.s] - p4[e8.s] || e8.f - t8.f;
    })); i7 < n7; ++i7) {
      var w7 = s7[i7].s;
      if (!(p4[w7] > t7)) break;
      d5 += m5 - (1 << g6 - p4[w7]), p4[w7] = t7;
    }
    for (d5 >>= f7; d5 > 0; ) {
      var b5 = s7[i7].s;
      p4[b5] < t7 ? d5 -= 1 << t7 - p4[b5]++ - 1 : ++i7;
    }
    for (; i7 >= 0 && d5; --i7) {
      var k6 = s7[i7].s;
      p4[k6] == t7 && (--p4[k6], ++d5);
    }
    g6 = t7;
  }
  return { t: new zn(p4), l: g6 };
};
var ms = function(e7, t7, r7) {
  return -1 == e7.s ? Math.max(ms(e7.l, t7, r7 + 1), ms(e7.r, t7, r7 + 1)) : t7[e7.s] = r7;
};
var ws = function(e7) {
  for (var t7 = e7.length; t7 && !e7[--t7]; ) ;
  for (var r7 = new Rn(++t7), i7 = 0, n7 = e7[0], s7 = 1, a7 = function(e8) {
    r7[i7++] = e8;
  }, o7 = 1; o7 <= t7; ++o7) if (e7[o7] == n7 && o7 != t7) ++s7;
  else {
    if (!n7 && s7 > 2) {
      for (; s7 > 138; s7 -= 138) a7(32754);
      s7 > 2 && (a7(s7 > 10 ? s7 - 11 << 5 | 28690 : s7 - 3 << 5 | 12305), s7 = 0);
    } else if (s7 > 3) {
      for (a7(n7), --s7; s7 > 6; s7 -= 6) a7(8304);
      s7 > 2 && (a7(s7 - 3 << 5 | 8208), s7 = 0);
    }
    for (; s7--; ) a7(n7);
    s7 = 1, n7 = e7[o7];
  }
  return { c: r7.subarray(0, i7), n: t7 };
};
var bs = function(e7, t7) {
  for (var r7 = 0, i7 = 0; i7 < t7.length; ++i7) r7 += e7[i7] * t7[i7];
  return r7;
};
var ks = function(e7, t7, r7) {
  var i7 = r7.length, n7 = hs(t7 + 2);
  e7[n7] = 255 & i7, e7[n7 + 1] = i7 >> 8, e7[n7 + 2] = 255 ^ e7[n7], e7[n7 + 3] = 255 ^ e7[n7 + 1];
  for (var s7 = 0; s7 < i7; ++s7) e7[n7 + s7 + 4] = r7[s7];
  return 8 * (n7 + 4 + i7);
};
var vs = function(e7, t7, r7, i7, n7, s7, a7, o7, c6, u7, h6) {
  gs(t7, h6++, r7), ++n7[256];
  for (var y7 = fs(n7, 15), l5 = y7.t, p4 = y7.l, g6 = fs(s7, 15), d5 = g6.t, f7 = g6.l, m5 = ws(l5), w7 = m5.c, b5 = m5.n, k6 = ws(d5), v6 = k6.c, A7 = k6.n, K5 = new Rn(19), E7 = 0; E7 < w7.length; ++E7) ++K5[31 & w7[E7]];
  for (E7 = 0; E7 < v6.length; ++E7) ++K5[31 & v6[E7]];
  for (var S6 = fs(K5, 7), P5 = S6.t, U7 = S6.l, D7 = 19; D7 > 4 && !P5[Gn[D7 - 1]]; --D7) ;
  var x6, I7, C7, B6, T5 = u7 + 5 << 3, M7 = bs(n7, ts) + bs(s7, rs) + a7, L4 = bs(n7, l5) + bs(s7, d5) + a7 + 14 + 3 * D7 + bs(K5, P5) + 2 * K5[16] + 3 * K5[17] + 7 * K5[18];
  if (c6 >= 0 && T5 <= M7 && T5 <= L4) return ks(t7, h6, e7.subarray(c6, c6 + u7));
  if (gs(t7, h6, 1 + (L4 < M7)), h6 += 2, L4 < M7) {
    x6 = es(l5, p4, 0), I7 = l5, C7 = es(d5, f7, 0), B6 = d5;
    var F6 = es(P5, U7, 0);
    gs(t7, h6, b5 - 257), gs(t7, h6 + 5, A7 - 1), gs(t7, h6 + 10, D7 - 4), h6 += 14;
    for (E7 = 0; E7 < D7; ++E7) gs(t7, h6 + 3 * E7, P5[Gn[E7]]);
    h6 += 3 * D7;
    for (var N5 = [w7, v6], z6 = 0; z6 < 2; ++z6) {
      var R6 = N5[z6];
      for (E7 = 0; E7 < R6.length; ++E7) {
        var O5 = 31 & R6[E7];
        gs(t7, h6, F6[O5]), h6 += P5[O5], O5 > 15 && (gs(t7, h6, R6[E7] >> 5 & 127), h6 += R6[E7] >> 12);
      }
    }
  } else x6 = is, I7 = ts, C7 = ss, B6 = rs;
  for (E7 = 0; E7 < o7; ++E7) {
    var j6 = i7[E7];
    if (j6 > 255) {
      ds(t7, h6, x6[(O5 = j6 >> 18 & 31) + 257]), h6 += I7[O5 + 257], O5 > 7 && (gs(t7, h6, j6 >> 23 & 31), h6 += jn[O5]);
      var H6 = 31 & j6;
      ds(t7, h6, C7[H6]), h6 += B6[H6], H6 > 3 && (ds(t7, h6, j6 >> 5 & 8191), h6 += Hn[H6]);
    } else ds(t7, h6, x6[j6]), h6 += I7[j6];
  }
  return ds(t7, h6, x6[256]), h6 + I7[256];
};
var As = /* @__PURE__ */ new On([65540, 131080, 131088, 131104, 262176, 1048704, 1048832, 2114560, 2117632]);
var Ks = /* @__PURE__ */ new zn(0);
var Es = function() {
  var e7 = 1, t7 = 0;
  return { p: function(r7) {
    for (var i7 = e7, n7 = t7, s7 = 0 | r7.length, a7 = 0; a7 != s7; ) {
      for (var o7 = Math.min(a7 + 2655, s7); a7 < o7; ++a7) n7 += i7 += r7[a7];
      i7 = (65535 & i7) + 15 * (i7 >> 16), n7 = (65535 & n7) + 15 * (n7 >> 16);
    }
    e7 = i7, t7 = n7;
  }, d: function() {
    return (255 & (e7 %= 65521)) << 24 | (65280 & e7) << 8 | (255 & (t7 %= 65521)) << 8 | t7 >> 8;
  } };
};
var Ss = function(e7, t7, r7, i7, n7) {
  if (!n7 && (n7 = { l: 1 }, t7.dictionary)) {
    var s7 = t7.dictionary.subarray(-32768), a7 = new zn(s7.length + e7.length);
    a7.set(s7), a7.set(e7, s7.length), e7 = a7, n7.w = s7.length;
  }
  return (function(e8, t8, r8, i8, n8, s8) {
    var a8 = s8.z || e8.length, o7 = new zn(i8 + a8 + 5 * (1 + Math.ceil(a8 / 7e3)) + n8), c6 = o7.subarray(i8, o7.length - n8), u7 = s8.l, h6 = 7 & (s8.r || 0);
    if (t8) {
      h6 && (c6[0] = s8.r >> 3);
      for (var y7 = As[t8 - 1], l5 = y7 >> 13, p4 = 8191 & y7, g6 = (1 << r8) - 1, d5 = s8.p || new Rn(32768), f7 = s8.h || new Rn(g6 + 1), m5 = Math.ceil(r8 / 3), w7 = 2 * m5, b5 = function(t9) {
        return (e8[t9] ^ e8[t9 + 1] << m5 ^ e8[t9 + 2] << w7) & g6;
      }, k6 = new On(25e3), v6 = new Rn(288), A7 = new Rn(32), K5 = 0, E7 = 0, S6 = s8.i || 0, P5 = 0, U7 = s8.w || 0, D7 = 0; S6 + 2 < a8; ++S6) {
        var x6 = b5(S6), I7 = 32767 & S6, C7 = f7[x6];
        if (d5[I7] = C7, f7[x6] = I7, U7 <= S6) {
          var B6 = a8 - S6;
          if ((K5 > 7e3 || P5 > 24576) && (B6 > 423 || !u7)) {
            h6 = vs(e8, c6, 0, k6, v6, A7, E7, P5, D7, S6 - D7, h6), P5 = K5 = E7 = 0, D7 = S6;
            for (var T5 = 0; T5 < 286; ++T5) v6[T5] = 0;
            for (T5 = 0; T5 < 30; ++T5) A7[T5] = 0;
          }
          var M7 = 2, L4 = 0, F6 = p4, N5 = I7 - C7 & 32767;
          if (B6 > 2 && x6 == b5(S6 - N5)) for (var z6 = Math.min(l5, B6) - 1, R6 = Math.min(32767, S6), O5 = Math.min(258, B6); N5 <= R6 && --F6 && I7 != C7; ) {
            if (e8[S6 + M7] == e8[S6 + M7 - N5]) {
              for (var j6 = 0; j6 < O5 && e8[S6 + j6] == e8[S6 + j6 - N5]; ++j6) ;
              if (j6 > M7) {
                if (M7 = j6, L4 = N5, j6 > z6) break;
                var H6 = Math.min(N5, j6 - 2), G6 = 0;
                for (T5 = 0; T5 < H6; ++T5) {
                  var q6 = S6 - N5 + T5 & 32767, _5 = q6 - d5[q6] & 32767;
                  _5 > G6 && (G6 = _5, C7 = q6);
                }
              }
            }
            N5 += (I7 = C7) - (C7 = d5[I7]) & 32767;
          }
          if (L4) {
            k6[P5++] = 268435456 | Vn[M7] << 18 | Qn[L4];
            var W4 = 31 & Vn[M7], V5 = 31 & Qn[L4];
            E7 += jn[W4] + Hn[V5], ++v6[257 + W4], ++A7[V5], U7 = S6 + M7, ++K5;
          } else k6[P5++] = e8[S6], ++v6[e8[S6]];
        }
      }
      for (S6 = Math.max(S6, U7); S6 < a8; ++S6) k6[P5++] = e8[S6], ++v6[e8[S6]];
      h6 = vs(e8, c6, u7, k6, v6, A7, E7, P5, D7, S6 - D7, h6), u7 || (s8.r = 7 & h6 | c6[h6 / 8 | 0] << 3, h6 -= 7, s8.h = f7, s8.p = d5, s8.i = S6, s8.w = U7);
    } else {
      for (S6 = s8.w || 0; S6 < a8 + u7; S6 += 65535) {
        var $4 = S6 + 65535;
        $4 >= a8 && (c6[h6 / 8 | 0] = u7, $4 = a8), h6 = ks(c6, h6 + 1, e8.subarray(S6, $4));
      }
      s8.i = a8;
    }
    return ys(o7, 0, i8 + hs(h6) + n8);
  })(e7, null == t7.level ? 6 : t7.level, null == t7.mem ? n7.l ? Math.ceil(1.5 * Math.max(8, Math.min(13, Math.log(e7.length)))) : 20 : 12 + t7.mem, r7, i7, n7);
};
var Ps = function(e7, t7, r7) {
  for (; r7; ++t7) e7[t7] = r7, r7 >>>= 8;
};
var Us = /* @__PURE__ */ (function() {
  function e7(e8, t7) {
    if ("function" == typeof e8 && (t7 = e8, e8 = {}), this.ondata = t7, this.o = e8 || {}, this.s = { l: 0, i: 32768, w: 32768, z: 32768 }, this.b = new zn(98304), this.o.dictionary) {
      var r7 = this.o.dictionary.subarray(-32768);
      this.b.set(r7, 32768 - r7.length), this.s.i = 32768 - r7.length;
    }
  }
  return e7.prototype.p = function(e8, t7) {
    this.ondata(Ss(e8, this.o, 0, 0, this.s), t7);
  }, e7.prototype.push = function(e8, t7) {
    this.ondata || ps(5), this.s.l && ps(4);
    var r7 = e8.length + this.s.z;
    if (r7 > this.b.length) {
      if (r7 > 2 * this.b.length - 32768) {
        var i7 = new zn(-32768 & r7);
        i7.set(this.b.subarray(0, this.s.z)), this.b = i7;
      }
      var n7 = this.b.length - this.s.z;
      this.b.set(e8.subarray(0, n7), this.s.z), this.s.z = this.b.length, this.p(this.b, false), this.b.set(this.b.subarray(-32768)), this.b.set(e8.subarray(n7), 32768), this.s.z = e8.length - n7 + 32768, this.s.i = 32766, this.s.w = 32768;
    } else this.b.set(e8, this.s.z), this.s.z += e8.length;
    this.s.l = 1 & t7, (this.s.z > this.s.w + 8191 || t7) && (this.p(this.b, t7 || false), this.s.w = this.s.i, this.s.i -= 2), t7 && (this.s = this.o = {}, this.b = Ks);
  }, e7.prototype.flush = function(e8) {
    if (this.ondata || ps(5), this.s.l && ps(4), this.p(this.b, false), this.s.w = this.s.i, this.s.i -= 2, e8) {
      var t7 = new zn(6);
      t7[0] = this.s.r >> 3;
      var r7 = ks(t7, this.s.r, Ks);
      this.s.r = 0, this.ondata(t7.subarray(0, r7 >> 3), false);
    }
  }, e7;
})();
var Ds = /* @__PURE__ */ (function() {
  function e7(e8, t7) {
    "function" == typeof e8 && (t7 = e8, e8 = {}), this.ondata = t7;
    var r7 = e8 && e8.dictionary && e8.dictionary.subarray(-32768);
    this.s = { i: 0, b: r7 ? r7.length : 0 }, this.o = new zn(32768), this.p = new zn(0), r7 && this.o.set(r7);
  }
  return e7.prototype.e = function(e8) {
    if (this.ondata || ps(5), this.d && ps(4), this.p.length) {
      if (e8.length) {
        var t7 = new zn(this.p.length + e8.length);
        t7.set(this.p), t7.set(e8, this.p.length), this.p = t7;
      }
    } else this.p = e8;
  }, e7.prototype.c = function(e8) {
    this.s.i = +(this.d = e8 || false);
    var t7 = this.s.b, r7 = (function(e9, t8, r8, i7) {
      var n7 = e9.length;
      if (!n7 || t8.f && !t8.l) return r8 || new zn(0);
      var s7 = !r8, a7 = s7 || 2 != t8.i, o7 = t8.i;
      s7 && (r8 = new zn(3 * n7));
      var c6 = function(e10) {
        var t9 = r8.length;
        if (e10 > t9) {
          var i8 = new zn(Math.max(2 * t9, e10));
          i8.set(r8), r8 = i8;
        }
      }, u7 = t8.f || 0, h6 = t8.p || 0, y7 = t8.b || 0, l5 = t8.l, p4 = t8.d, g6 = t8.m, d5 = t8.n, f7 = 8 * n7;
      do {
        if (!l5) {
          u7 = cs(e9, h6, 1);
          var m5 = cs(e9, h6 + 1, 3);
          if (h6 += 3, !m5) {
            var w7 = e9[(x6 = hs(h6) + 4) - 4] | e9[x6 - 3] << 8, b5 = x6 + w7;
            if (b5 > n7) {
              o7 && ps(0);
              break;
            }
            a7 && c6(y7 + w7), r8.set(e9.subarray(x6, b5), y7), t8.b = y7 += w7, t8.p = h6 = 8 * b5, t8.f = u7;
            continue;
          }
          if (1 == m5) l5 = ns, p4 = as, g6 = 9, d5 = 5;
          else if (2 == m5) {
            var k6 = cs(e9, h6, 31) + 257, v6 = cs(e9, h6 + 10, 15) + 4, A7 = k6 + cs(e9, h6 + 5, 31) + 1;
            h6 += 14;
            for (var K5 = new zn(A7), E7 = new zn(19), S6 = 0; S6 < v6; ++S6) E7[Gn[S6]] = cs(e9, h6 + 3 * S6, 7);
            h6 += 3 * v6;
            var P5 = os(E7), U7 = (1 << P5) - 1, D7 = es(E7, P5, 1);
            for (S6 = 0; S6 < A7; ) {
              var x6, I7 = D7[cs(e9, h6, U7)];
              if (h6 += 15 & I7, (x6 = I7 >> 4) < 16) K5[S6++] = x6;
              else {
                var C7 = 0, B6 = 0;
                for (16 == x6 ? (B6 = 3 + cs(e9, h6, 3), h6 += 2, C7 = K5[S6 - 1]) : 17 == x6 ? (B6 = 3 + cs(e9, h6, 7), h6 += 3) : 18 == x6 && (B6 = 11 + cs(e9, h6, 127), h6 += 7); B6--; ) K5[S6++] = C7;
              }
            }
            var T5 = K5.subarray(0, k6), M7 = K5.subarray(k6);
            g6 = os(T5), d5 = os(M7), l5 = es(T5, g6, 1), p4 = es(M7, d5, 1);
          } else ps(1);
          if (h6 > f7) {
            o7 && ps(0);
            break;
          }
        }
        a7 && c6(y7 + 131072);
        for (var L4 = (1 << g6) - 1, F6 = (1 << d5) - 1, N5 = h6; ; N5 = h6) {
          var z6 = (C7 = l5[us(e9, h6) & L4]) >> 4;
          if ((h6 += 15 & C7) > f7) {
            o7 && ps(0);
            break;
          }
          if (C7 || ps(2), z6 < 256) r8[y7++] = z6;
          else {
            if (256 == z6) {
              N5 = h6, l5 = null;
              break;
            }
            var R6 = z6 - 254;
            if (z6 > 264) {
              var O5 = jn[S6 = z6 - 257];
              R6 = cs(e9, h6, (1 << O5) - 1) + Wn[S6], h6 += O5;
            }
            var j6 = p4[us(e9, h6) & F6], H6 = j6 >> 4;
            if (j6 || ps(3), h6 += 15 & j6, M7 = Xn[H6], H6 > 3 && (O5 = Hn[H6], M7 += us(e9, h6) & (1 << O5) - 1, h6 += O5), h6 > f7) {
              o7 && ps(0);
              break;
            }
            a7 && c6(y7 + 131072);
            var G6 = y7 + R6;
            if (y7 < M7) {
              var q6 = 0 - M7, _5 = Math.min(M7, G6);
              for (q6 + y7 < 0 && ps(3); y7 < _5; ++y7) r8[y7] = i7[q6 + y7];
            }
            for (; y7 < G6; ++y7) r8[y7] = r8[y7 - M7];
          }
        }
        t8.l = l5, t8.p = N5, t8.b = y7, t8.f = u7, l5 && (u7 = 1, t8.m = g6, t8.d = p4, t8.n = d5);
      } while (!u7);
      return y7 != r8.length && s7 ? ys(r8, 0, y7) : r8.subarray(0, y7);
    })(this.p, this.s, this.o);
    this.ondata(ys(r7, t7, this.s.b), this.d), this.o = ys(r7, this.s.b - 32768), this.s.b = this.o.length, this.p = ys(this.p, this.s.p / 8 | 0), this.s.p &= 7;
  }, e7.prototype.push = function(e8, t7) {
    this.e(e8), this.c(t7);
  }, e7;
})();
var xs = /* @__PURE__ */ (function() {
  function e7(e8, t7) {
    this.c = Es(), this.v = 1, Us.call(this, e8, t7);
  }
  return e7.prototype.push = function(e8, t7) {
    this.c.p(e8), Us.prototype.push.call(this, e8, t7);
  }, e7.prototype.p = function(e8, t7) {
    var r7 = Ss(e8, this.o, this.v && (this.o.dictionary ? 6 : 2), t7 && 4, this.s);
    this.v && ((function(e9, t8) {
      var r8 = t8.level, i7 = 0 == r8 ? 0 : r8 < 6 ? 1 : 9 == r8 ? 3 : 2;
      if (e9[0] = 120, e9[1] = i7 << 6 | (t8.dictionary && 32), e9[1] |= 31 - (e9[0] << 8 | e9[1]) % 31, t8.dictionary) {
        var n7 = Es();
        n7.p(t8.dictionary), Ps(e9, 2, n7.d());
      }
    })(r7, this.o), this.v = 0), t7 && Ps(r7, r7.length - 4, this.c.d()), this.ondata(r7, t7);
  }, e7.prototype.flush = function(e8) {
    Us.prototype.flush.call(this, e8);
  }, e7;
})();
var Is = /* @__PURE__ */ (function() {
  function e7(e8, t7) {
    Ds.call(this, e8, t7), this.v = e8 && e8.dictionary ? 2 : 1;
  }
  return e7.prototype.push = function(e8, t7) {
    if (Ds.prototype.e.call(this, e8), this.v) {
      if (this.p.length < 6 && !t7) return;
      this.p = this.p.subarray((r7 = this.p, i7 = this.v - 1, (8 != (15 & r7[0]) || r7[0] >> 4 > 7 || (r7[0] << 8 | r7[1]) % 31) && ps(6, "invalid zlib data"), (r7[1] >> 5 & 1) == +!i7 && ps(6, "invalid zlib data: " + (32 & r7[1] ? "need" : "unexpected") + " dictionary"), 2 + (r7[1] >> 3 & 4))), this.v = 0;
    }
    var r7, i7;
    t7 && (this.p.length < 4 && ps(6, "invalid zlib data"), this.p = this.p.subarray(0, -4)), Ds.prototype.c.call(this, t7);
  }, e7;
})();
var Cs = "undefined" != typeof TextDecoder && /* @__PURE__ */ new TextDecoder();
try {
  Cs.decode(Ks, { stream: true });
} catch (e7) {
}
var Bs = class {
  static get tag() {
    return M6.packet.literalData;
  }
  constructor(e7 = /* @__PURE__ */ new Date()) {
    this.format = M6.literal.utf8, this.date = N4.normalizeDate(e7), this.text = null, this.data = null, this.filename = "";
  }
  setText(e7, t7 = M6.literal.utf8) {
    this.format = t7, this.text = e7, this.data = null;
  }
  getText(e7 = false) {
    return (null === this.text || N4.isStream(this.text)) && (this.text = N4.decodeUTF8(N4.nativeEOL(this.getBytes(e7)))), this.text;
  }
  setBytes(e7, t7) {
    this.format = t7, this.data = e7, this.text = null;
  }
  getBytes(e7 = false) {
    return null === this.data && (this.data = N4.canonicalizeEOL(N4.encodeUTF8(this.text))), e7 ? S5(this.data) : this.data;
  }
  setFilename(e7) {
    this.filename = e7;
  }
  getFilename() {
    return this.filename;
  }
  async read(e7) {
    await K4(e7, (async (e8) => {
      const t7 = await e8.readByte(), r7 = await e8.readByte();
      this.filename = N4.decodeUTF8(await e8.readBytes(r7)), this.date = N4.readDate(await e8.readBytes(4));
      let i7 = e8.remainder();
      a6(i7) && (i7 = await D6(i7)), this.setBytes(i7, t7);
    }));
  }
  writeHeader() {
    const e7 = N4.encodeUTF8(this.filename), t7 = new Uint8Array([e7.length]), r7 = new Uint8Array([this.format]), i7 = N4.writeDate(this.date);
    return N4.concatUint8Array([r7, t7, e7, i7]);
  }
  write() {
    const e7 = this.writeHeader(), t7 = this.getBytes();
    return N4.concat([e7, t7]);
  }
};
var Ts = class _Ts {
  constructor() {
    this.bytes = "";
  }
  read(e7) {
    return this.bytes = N4.uint8ArrayToString(e7.subarray(0, 8)), this.bytes.length;
  }
  write() {
    return N4.stringToUint8Array(this.bytes);
  }
  toHex() {
    return N4.uint8ArrayToHex(N4.stringToUint8Array(this.bytes));
  }
  equals(e7, t7 = false) {
    return t7 && (e7.isWildcard() || this.isWildcard()) || this.bytes === e7.bytes;
  }
  isNull() {
    return "" === this.bytes;
  }
  isWildcard() {
    return /^0+$/.test(this.toHex());
  }
  static mapToHex(e7) {
    return e7.toHex();
  }
  static fromID(e7) {
    const t7 = new _Ts();
    return t7.read(N4.hexToUint8Array(e7)), t7;
  }
  static wildcard() {
    const e7 = new _Ts();
    return e7.read(new Uint8Array(8)), e7;
  }
};
var Ms = /* @__PURE__ */ Symbol("verified");
var Ls = "salt@notations.openpgpjs.org";
var Fs = /* @__PURE__ */ new Set([M6.signatureSubpacket.issuerKeyID, M6.signatureSubpacket.issuerFingerprint, M6.signatureSubpacket.embeddedSignature]);
var Ns = class _Ns {
  static get tag() {
    return M6.packet.signature;
  }
  constructor() {
    this.version = null, this.signatureType = null, this.hashAlgorithm = null, this.publicKeyAlgorithm = null, this.signatureData = null, this.unhashedSubpackets = [], this.unknownSubpackets = [], this.signedHashValue = null, this.salt = null, this.created = null, this.signatureExpirationTime = null, this.signatureNeverExpires = true, this.exportable = null, this.trustLevel = null, this.trustAmount = null, this.regularExpression = null, this.revocable = null, this.keyExpirationTime = null, this.keyNeverExpires = null, this.preferredSymmetricAlgorithms = null, this.revocationKeyClass = null, this.revocationKeyAlgorithm = null, this.revocationKeyFingerprint = null, this.issuerKeyID = new Ts(), this.rawNotations = [], this.notations = {}, this.preferredHashAlgorithms = null, this.preferredCompressionAlgorithms = null, this.keyServerPreferences = null, this.preferredKeyServer = null, this.isPrimaryUserID = null, this.policyURI = null, this.keyFlags = null, this.signersUserID = null, this.reasonForRevocationFlag = null, this.reasonForRevocationString = null, this.features = null, this.signatureTargetPublicKeyAlgorithm = null, this.signatureTargetHashAlgorithm = null, this.signatureTargetHash = null, this.embeddedSignature = null, this.issuerKeyVersion = null, this.issuerFingerprint = null, this.preferredAEADAlgorithms = null, this.preferredCipherSuites = null, this.revoked = null, this[Ms] = null;
  }
  read(e7, t7 = L3) {
    let r7 = 0;
    if (this.version = e7[r7++], 5 === this.version && !t7.enableParsingV5Entities) throw new at3("Support for v5 entities is disabled; turn on `config.enableParsingV5Entities` if needed");
    if (4 !== this.version && 5 !== this.version && 6 !== this.version) throw new at3(`Version ${this.version} of the signature packet is unsupported.`);
    if (this.signatureType = e7[r7++], this.publicKeyAlgorithm = e7[r7++], this.hashAlgorithm = e7[r7++], r7 += this.readSubPackets(e7.subarray(r7, e7.length), true), !this.created) throw Error("Missing signature creation time subpacket.");
    if (this.signatureData = e7.subarray(0, r7), r7 += this.readSubPackets(e7.subarray(r7, e7.length), false), this.signedHashValue = e7.subarray(r7, r7 + 2), r7 += 2, 6 === this.version) {
      const t8 = e7[r7++];
      this.salt = e7.subarray(r7, r7 + t8), r7 += t8;
    }
    const i7 = e7.subarray(r7, e7.length), { read: n7, signatureParams: s7 } = (function(e8, t8) {
      let r8 = 0;
      switch (e8) {
        case M6.publicKey.rsaEncryptSign:
        case M6.publicKey.rsaEncrypt:
        case M6.publicKey.rsaSign: {
          const e9 = N4.readMPI(t8.subarray(r8));
          return r8 += e9.length + 2, { read: r8, signatureParams: { s: e9 } };
        }
        case M6.publicKey.dsa:
        case M6.publicKey.ecdsa: {
          const e9 = N4.readMPI(t8.subarray(r8));
          r8 += e9.length + 2;
          const i8 = N4.readMPI(t8.subarray(r8));
          return r8 += i8.length + 2, { read: r8, signatureParams: { r: e9, s: i8 } };
        }
        case M6.publicKey.eddsaLegacy: {
          const e9 = N4.readMPI(t8.subarray(r8));
          r8 += e9.length + 2;
          const i8 = N4.readMPI(t8.subarray(r8));
          return r8 += i8.length + 2, { read: r8, signatureParams: { r: e9, s: i8 } };
        }
        case M6.publicKey.ed25519:
        case M6.publicKey.ed448: {
          const i8 = 2 * gt3(e8), n8 = N4.readExactSubarray(t8, r8, r8 + i8);
          return r8 += n8.length, { read: r8, signatureParams: { RS: n8 } };
        }
        default:
          throw new at3("Unknown signature algorithm.");
      }
    })(this.publicKeyAlgorithm, i7);
    if (n7 < i7.length) throw Error("Error reading MPIs");
    this.params = s7;
  }
  writeParams() {
    return this.params instanceof Promise ? I6((async () => Ci(this.publicKeyAlgorithm, await this.params))) : Ci(this.publicKeyAlgorithm, this.params);
  }
  write() {
    const e7 = [];
    return e7.push(this.signatureData), e7.push(this.writeUnhashedSubPackets()), e7.push(this.signedHashValue), 6 === this.version && (e7.push(new Uint8Array([this.salt.length])), e7.push(this.salt)), e7.push(this.writeParams()), N4.concat(e7);
  }
  async sign(e7, t7, r7 = /* @__PURE__ */ new Date(), i7 = false, n7) {
    this.version = e7.version, this.created = N4.normalizeDate(r7), this.issuerKeyVersion = e7.version, this.issuerFingerprint = e7.getFingerprintBytes(), this.issuerKeyID = e7.getKeyID();
    const s7 = [new Uint8Array([this.version, this.signatureType, this.publicKeyAlgorithm, this.hashAlgorithm])];
    if (6 === this.version) {
      const e8 = Rs(this.hashAlgorithm);
      if (null === this.salt) this.salt = ge2(e8);
      else if (e8 !== this.salt.length) throw Error("Provided salt does not have the required length");
    } else if (n7.nonDeterministicSignaturesViaNotation) {
      if (0 !== this.rawNotations.filter((({ name: e8 }) => e8 === Ls)).length) throw Error("Unexpected existing salt notation");
      {
        const e8 = ge2(Rs(this.hashAlgorithm));
        this.rawNotations.push({ name: Ls, value: e8, humanReadable: false, critical: false });
      }
    }
    s7.push(this.writeHashedSubPackets()), this.unhashedSubpackets = [], this.signatureData = N4.concat(s7);
    const a7 = this.toHash(this.signatureType, t7, i7), o7 = await this.hash(this.signatureType, t7, a7, i7);
    this.signedHashValue = U6(E6(o7), 0, 2);
    const c6 = async () => xn(this.publicKeyAlgorithm, this.hashAlgorithm, e7.publicParams, e7.privateParams, a7, await D6(o7));
    N4.isStream(o7) ? this.params = c6() : (this.params = await c6(), this[Ms] = true);
  }
  writeHashedSubPackets() {
    const e7 = M6.signatureSubpacket, t7 = [];
    let r7;
    if (null === this.created) throw Error("Missing signature creation time");
    t7.push(zs(e7.signatureCreationTime, true, N4.writeDate(this.created))), null !== this.signatureExpirationTime && t7.push(zs(e7.signatureExpirationTime, true, N4.writeNumber(this.signatureExpirationTime, 4))), null !== this.exportable && t7.push(zs(e7.exportableCertification, true, new Uint8Array([this.exportable ? 1 : 0]))), null !== this.trustLevel && (r7 = new Uint8Array([this.trustLevel, this.trustAmount]), t7.push(zs(e7.trustSignature, true, r7))), null !== this.regularExpression && t7.push(zs(e7.regularExpression, true, this.regularExpression)), null !== this.revocable && t7.push(zs(e7.revocable, true, new Uint8Array([this.revocable ? 1 : 0]))), null !== this.keyExpirationTime && t7.push(zs(e7.keyExpirationTime, true, N4.writeNumber(this.keyExpirationTime, 4))), null !== this.preferredSymmetricAlgorithms && (r7 = N4.stringToUint8Array(N4.uint8ArrayToString(this.preferredSymmetricAlgorithms)), t7.push(zs(e7.preferredSymmetricAlgorithms, false, r7))), null !== this.revocationKeyClass && (r7 = new Uint8Array([this.revocationKeyClass, this.revocationKeyAlgorithm]), r7 = N4.concat([r7, this.revocationKeyFingerprint]), t7.push(zs(e7.revocationKey, false, r7))), !this.issuerKeyID.isNull() && this.issuerKeyVersion < 5 && t7.push(zs(e7.issuerKeyID, false, this.issuerKeyID.write())), this.rawNotations.forEach((({ name: i8, value: n8, humanReadable: s7, critical: a7 }) => {
      r7 = [new Uint8Array([s7 ? 128 : 0, 0, 0, 0])];
      const o7 = N4.encodeUTF8(i8);
      r7.push(N4.writeNumber(o7.length, 2)), r7.push(N4.writeNumber(n8.length, 2)), r7.push(o7), r7.push(n8), r7 = N4.concat(r7), t7.push(zs(e7.notationData, a7, r7));
    })), null !== this.preferredHashAlgorithms && (r7 = N4.stringToUint8Array(N4.uint8ArrayToString(this.preferredHashAlgorithms)), t7.push(zs(e7.preferredHashAlgorithms, false, r7))), null !== this.preferredCompressionAlgorithms && (r7 = N4.stringToUint8Array(N4.uint8ArrayToString(this.preferredCompressionAlgorithms)), t7.push(zs(e7.preferredCompressionAlgorithms, false, r7))), null !== this.keyServerPreferences && (r7 = N4.stringToUint8Array(N4.uint8ArrayToString(this.keyServerPreferences)), t7.push(zs(e7.keyServerPreferences, false, r7))), null !== this.preferredKeyServer && t7.push(zs(e7.preferredKeyServer, false, N4.encodeUTF8(this.preferredKeyServer))), null !== this.isPrimaryUserID && t7.push(zs(e7.primaryUserID, false, new Uint8Array([this.isPrimaryUserID ? 1 : 0]))), null !== this.policyURI && t7.push(zs(e7.policyURI, false, N4.encodeUTF8(this.policyURI))), null !== this.keyFlags && (r7 = N4.stringToUint8Array(N4.uint8ArrayToString(this.keyFlags)), t7.push(zs(e7.keyFlags, true, r7))), null !== this.signersUserID && t7.push(zs(e7.signersUserID, false, N4.encodeUTF8(this.signersUserID))), null !== this.reasonForRevocationFlag && (r7 = N4.stringToUint8Array(String.fromCharCode(this.reasonForRevocationFlag) + this.reasonForRevocationString), t7.push(zs(e7.reasonForRevocation, true, r7))), null !== this.features && (r7 = N4.stringToUint8Array(N4.uint8ArrayToString(this.features)), t7.push(zs(e7.features, false, r7))), null !== this.signatureTargetPublicKeyAlgorithm && (r7 = [new Uint8Array([this.signatureTargetPublicKeyAlgorithm, this.signatureTargetHashAlgorithm])], r7.push(N4.stringToUint8Array(this.signatureTargetHash)), r7 = N4.concat(r7), t7.push(zs(e7.signatureTarget, true, r7))), null !== this.embeddedSignature && t7.push(zs(e7.embeddedSignature, true, this.embeddedSignature.write())), null !== this.issuerFingerprint && (r7 = [new Uint8Array([this.issuerKeyVersion]), this.issuerFingerprint], r7 = N4.concat(r7), t7.push(zs(e7.issuerFingerprint, this.version >= 5, r7))), null !== this.preferredAEADAlgorithms && (r7 = N4.stringToUint8Array(N4.uint8ArrayToString(this.preferredAEADAlgorithms)), t7.push(zs(e7.preferredAEADAlgorithms, false, r7))), null !== this.preferredCipherSuites && (r7 = new Uint8Array([].concat(...this.preferredCipherSuites)), t7.push(zs(e7.preferredCipherSuites, false, r7)));
    const i7 = N4.concat(t7), n7 = N4.writeNumber(i7.length, 6 === this.version ? 4 : 2);
    return N4.concat([n7, i7]);
  }
  writeUnhashedSubPackets() {
    const e7 = this.unhashedSubpackets.map((({ type: e8, critical: t8, body: r8 }) => zs(e8, t8, r8))), t7 = N4.concat(e7), r7 = N4.writeNumber(t7.length, 6 === this.version ? 4 : 2);
    return N4.concat([r7, t7]);
  }
  readSubPacket(e7, t7 = true) {
    let r7 = 0;
    const i7 = !!(128 & e7[r7]), n7 = 127 & e7[r7];
    if (r7++, t7 || (this.unhashedSubpackets.push({ type: n7, critical: i7, body: e7.subarray(r7, e7.length) }), Fs.has(n7))) switch (n7) {
      case M6.signatureSubpacket.signatureCreationTime:
        this.created = N4.readDate(e7.subarray(r7, e7.length));
        break;
      case M6.signatureSubpacket.signatureExpirationTime: {
        const t8 = N4.readNumber(e7.subarray(r7, e7.length));
        this.signatureNeverExpires = 0 === t8, this.signatureExpirationTime = t8;
        break;
      }
      case M6.signatureSubpacket.exportableCertification:
        this.exportable = 1 === e7[r7++];
        break;
      case M6.signatureSubpacket.trustSignature:
        this.trustLevel = e7[r7++], this.trustAmount = e7[r7++];
        break;
      case M6.signatureSubpacket.regularExpression:
        this.regularExpression = e7[r7];
        break;
      case M6.signatureSubpacket.revocable:
        this.revocable = 1 === e7[r7++];
        break;
      case M6.signatureSubpacket.keyExpirationTime: {
        const t8 = N4.readNumber(e7.subarray(r7, e7.length));
        this.keyExpirationTime = t8, this.keyNeverExpires = 0 === t8;
        break;
      }
      case M6.signatureSubpacket.preferredSymmetricAlgorithms:
        this.preferredSymmetricAlgorithms = [...e7.subarray(r7, e7.length)];
        break;
      case M6.signatureSubpacket.revocationKey:
        this.revocationKeyClass = e7[r7++], this.revocationKeyAlgorithm = e7[r7++], this.revocationKeyFingerprint = e7.subarray(r7, r7 + 20);
        break;
      case M6.signatureSubpacket.issuerKeyID:
        if (4 === this.version) this.issuerKeyID.read(e7.subarray(r7, e7.length));
        else if (t7) throw Error("Unexpected Issuer Key ID subpacket");
        break;
      case M6.signatureSubpacket.notationData: {
        const t8 = !!(128 & e7[r7]);
        r7 += 4;
        const n8 = N4.readNumber(e7.subarray(r7, r7 + 2));
        r7 += 2;
        const s7 = N4.readNumber(e7.subarray(r7, r7 + 2));
        r7 += 2;
        const a7 = N4.decodeUTF8(e7.subarray(r7, r7 + n8)), o7 = e7.subarray(r7 + n8, r7 + n8 + s7);
        this.rawNotations.push({ name: a7, humanReadable: t8, value: o7, critical: i7 }), t8 && (this.notations[a7] = N4.decodeUTF8(o7));
        break;
      }
      case M6.signatureSubpacket.preferredHashAlgorithms:
        this.preferredHashAlgorithms = [...e7.subarray(r7, e7.length)];
        break;
      case M6.signatureSubpacket.preferredCompressionAlgorithms:
        this.preferredCompressionAlgorithms = [...e7.subarray(r7, e7.length)];
        break;
      case M6.signatureSubpacket.keyServerPreferences:
        this.keyServerPreferences = [...e7.subarray(r7, e7.length)];
        break;
      case M6.signatureSubpacket.preferredKeyServer:
        this.preferredKeyServer = N4.decodeUTF8(e7.subarray(r7, e7.length));
        break;
      case M6.signatureSubpacket.primaryUserID:
        this.isPrimaryUserID = 0 !== e7[r7++];
        break;
      case M6.signatureSubpacket.policyURI:
        this.policyURI = N4.decodeUTF8(e7.subarray(r7, e7.length));
        break;
      case M6.signatureSubpacket.keyFlags:
        this.keyFlags = [...e7.subarray(r7, e7.length)];
        break;
      case M6.signatureSubpacket.signersUserID:
        this.signersUserID = N4.decodeUTF8(e7.subarray(r7, e7.length));
        break;
      case M6.signatureSubpacket.reasonForRevocation:
        this.reasonForRevocationFlag = e7[r7++], this.reasonForRevocationString = N4.decodeUTF8(e7.subarray(r7, e7.length));
        break;
      case M6.signatureSubpacket.features:
        this.features = [...e7.subarray(r7, e7.length)];
        break;
      case M6.signatureSubpacket.signatureTarget: {
        this.signatureTargetPublicKeyAlgorithm = e7[r7++], this.signatureTargetHashAlgorithm = e7[r7++];
        const t8 = Le(this.signatureTargetHashAlgorithm);
        this.signatureTargetHash = N4.uint8ArrayToString(e7.subarray(r7, r7 + t8));
        break;
      }
      case M6.signatureSubpacket.embeddedSignature:
        this.embeddedSignature = new _Ns(), this.embeddedSignature.read(e7.subarray(r7, e7.length));
        break;
      case M6.signatureSubpacket.issuerFingerprint:
        this.issuerKeyVersion = e7[r7++], this.issuerFingerprint = e7.subarray(r7, e7.length), this.issuerKeyVersion >= 5 ? this.issuerKeyID.read(this.issuerFingerprint) : this.issuerKeyID.read(this.issuerFingerprint.subarray(-8));
        break;
      case M6.signatureSubpacket.preferredAEADAlgorithms:
        this.preferredAEADAlgorithms = [...e7.subarray(r7, e7.length)];
        break;
      case M6.signatureSubpacket.preferredCipherSuites:
        this.preferredCipherSuites = [];
        for (let t8 = r7; t8 < e7.length; t8 += 2) this.preferredCipherSuites.push([e7[t8], e7[t8 + 1]]);
        break;
      default:
        this.unknownSubpackets.push({ type: n7, critical: i7, body: e7.subarray(r7, e7.length) });
    }
  }
  readSubPackets(e7, t7 = true, r7) {
    const i7 = 6 === this.version ? 4 : 2, n7 = N4.readNumber(e7.subarray(0, i7));
    let s7 = i7;
    for (; s7 < i7 + n7; ) {
      const i8 = Je(e7.subarray(s7, e7.length));
      s7 += i8.offset, this.readSubPacket(e7.subarray(s7, s7 + i8.len), t7, r7), s7 += i8.len;
    }
    return s7;
  }
  toSign(e7, t7) {
    const r7 = M6.signature;
    switch (e7) {
      case r7.binary:
        return null !== t7.text ? N4.encodeUTF8(t7.getText(true)) : t7.getBytes(true);
      case r7.text: {
        const e8 = t7.getBytes(true);
        return N4.canonicalizeEOL(e8);
      }
      case r7.standalone:
        return new Uint8Array(0);
      case r7.certGeneric:
      case r7.certPersona:
      case r7.certCasual:
      case r7.certPositive:
      case r7.certRevocation: {
        let e8, i7;
        if (t7.userID) i7 = 180, e8 = t7.userID;
        else {
          if (!t7.userAttribute) throw Error("Either a userID or userAttribute packet needs to be supplied for certification.");
          i7 = 209, e8 = t7.userAttribute;
        }
        const n7 = e8.write();
        return N4.concat([this.toSign(r7.key, t7), new Uint8Array([i7]), N4.writeNumber(n7.length, 4), n7]);
      }
      case r7.subkeyBinding:
      case r7.subkeyRevocation:
      case r7.keyBinding:
        return N4.concat([this.toSign(r7.key, t7), this.toSign(r7.key, { key: t7.bind })]);
      case r7.key:
        if (void 0 === t7.key) throw Error("Key packet is required for this signature.");
        return t7.key.writeForHash(this.version);
      case r7.keyRevocation:
        return this.toSign(r7.key, t7);
      case r7.timestamp:
        return new Uint8Array(0);
      case r7.thirdParty:
        throw Error("Not implemented");
      default:
        throw Error("Unknown signature type.");
    }
  }
  calculateTrailer(e7, t7) {
    let r7 = 0;
    return b4(E6(this.signatureData), ((e8) => {
      r7 += e8.length;
    }), (() => {
      const i7 = [];
      return 5 !== this.version || this.signatureType !== M6.signature.binary && this.signatureType !== M6.signature.text || (t7 ? i7.push(new Uint8Array(6)) : i7.push(e7.writeHeader())), i7.push(new Uint8Array([this.version, 255])), 5 === this.version && i7.push(new Uint8Array(4)), i7.push(N4.writeNumber(r7, 4)), N4.concat(i7);
    }));
  }
  toHash(e7, t7, r7 = false) {
    const i7 = this.toSign(e7, t7);
    return N4.concat([this.salt || new Uint8Array(), i7, this.signatureData, this.calculateTrailer(t7, r7)]);
  }
  async hash(e7, t7, r7, i7 = false) {
    if (6 === this.version && this.salt.length !== Rs(this.hashAlgorithm)) throw Error("Signature salt does not have the expected length");
    return r7 || (r7 = this.toHash(e7, t7, i7)), Me(this.hashAlgorithm, r7);
  }
  async verify(e7, t7, r7, i7 = /* @__PURE__ */ new Date(), n7 = false, s7 = L3) {
    if (!this.issuerKeyID.equals(e7.getKeyID())) throw Error("Signature was not issued by the given public key");
    if (this.publicKeyAlgorithm !== e7.algorithm) throw Error("Public key algorithm used to sign signature does not match issuer key algorithm.");
    const a7 = t7 === M6.signature.binary || t7 === M6.signature.text;
    if (!(this[Ms] && !a7)) {
      let i8, s8;
      if (this.hashed ? s8 = await this.hashed : (i8 = this.toHash(t7, r7, n7), s8 = await this.hash(t7, r7, i8)), s8 = await D6(s8), this.signedHashValue[0] !== s8[0] || this.signedHashValue[1] !== s8[1]) throw Error("Signed digest did not match");
      if (this.params = await this.params, this[Ms] = await Dn(this.publicKeyAlgorithm, this.hashAlgorithm, this.params, e7.publicParams, i8, s8), !this[Ms]) throw Error("Signature verification failed");
    }
    const o7 = N4.normalizeDate(i7);
    if (o7 && this.created > o7) throw Error("Signature creation time is in the future");
    if (o7 && o7 >= this.getExpirationTime()) throw Error("Signature is expired");
    if (s7.rejectHashAlgorithms.has(this.hashAlgorithm)) throw Error("Insecure hash algorithm: " + M6.read(M6.hash, this.hashAlgorithm).toUpperCase());
    if (s7.rejectMessageHashAlgorithms.has(this.hashAlgorithm) && [M6.signature.binary, M6.signature.text].includes(this.signatureType)) throw Error("Insecure message hash algorithm: " + M6.read(M6.hash, this.hashAlgorithm).toUpperCase());
    if (this.unknownSubpackets.forEach((({ type: e8, critical: t8 }) => {
      if (t8) throw Error("Unknown critical signature subpacket type " + e8);
    })), this.rawNotations.forEach((({ name: e8, critical: t8 }) => {
      if (t8 && s7.knownNotations.indexOf(e8) < 0) throw Error("Unknown critical notation: " + e8);
    })), null !== this.revocationKeyClass) throw Error("This key is intended to be revoked with an authorized key, which OpenPGP.js does not support.");
  }
  isExpired(e7 = /* @__PURE__ */ new Date()) {
    const t7 = N4.normalizeDate(e7);
    return null !== t7 && !(this.created <= t7 && t7 < this.getExpirationTime());
  }
  getExpirationTime() {
    return this.signatureNeverExpires ? 1 / 0 : new Date(this.created.getTime() + 1e3 * this.signatureExpirationTime);
  }
};
function zs(e7, t7, r7) {
  const i7 = [];
  return i7.push(et3(r7.length + 1)), i7.push(new Uint8Array([(t7 ? 128 : 0) | e7])), i7.push(r7), N4.concat(i7);
}
function Rs(e7) {
  switch (e7) {
    case M6.hash.sha256:
      return 16;
    case M6.hash.sha384:
      return 24;
    case M6.hash.sha512:
      return 32;
    case M6.hash.sha224:
    case M6.hash.sha3_256:
      return 16;
    case M6.hash.sha3_512:
      return 32;
    default:
      throw Error("Unsupported hash function");
  }
}
var Os = class _Os {
  static get tag() {
    return M6.packet.onePassSignature;
  }
  static fromSignaturePacket(e7, t7) {
    const r7 = new _Os();
    return r7.version = 6 === e7.version ? 6 : 3, r7.signatureType = e7.signatureType, r7.hashAlgorithm = e7.hashAlgorithm, r7.publicKeyAlgorithm = e7.publicKeyAlgorithm, r7.issuerKeyID = e7.issuerKeyID, r7.salt = e7.salt, r7.issuerFingerprint = e7.issuerFingerprint, r7.flags = t7 ? 1 : 0, r7;
  }
  constructor() {
    this.version = null, this.signatureType = null, this.hashAlgorithm = null, this.publicKeyAlgorithm = null, this.salt = null, this.issuerKeyID = null, this.issuerFingerprint = null, this.flags = null;
  }
  read(e7) {
    let t7 = 0;
    if (this.version = e7[t7++], 3 !== this.version && 6 !== this.version) throw new at3(`Version ${this.version} of the one-pass signature packet is unsupported.`);
    if (this.signatureType = e7[t7++], this.hashAlgorithm = e7[t7++], this.publicKeyAlgorithm = e7[t7++], 6 === this.version) {
      const r7 = e7[t7++];
      this.salt = e7.subarray(t7, t7 + r7), t7 += r7, this.issuerFingerprint = e7.subarray(t7, t7 + 32), t7 += 32, this.issuerKeyID = new Ts(), this.issuerKeyID.read(this.issuerFingerprint);
    } else this.issuerKeyID = new Ts(), this.issuerKeyID.read(e7.subarray(t7, t7 + 8)), t7 += 8;
    return this.flags = e7[t7++], this;
  }
  write() {
    const e7 = [new Uint8Array([this.version, this.signatureType, this.hashAlgorithm, this.publicKeyAlgorithm])];
    return 6 === this.version ? e7.push(new Uint8Array([this.salt.length]), this.salt, this.issuerFingerprint) : e7.push(this.issuerKeyID.write()), e7.push(new Uint8Array([this.flags])), N4.concatUint8Array(e7);
  }
  calculateTrailer(...e7) {
    return I6((async () => Ns.prototype.calculateTrailer.apply(await this.correspondingSig, e7)));
  }
  async verify() {
    const e7 = await this.correspondingSig;
    if (!e7 || e7.constructor.tag !== M6.packet.signature) throw Error("Corresponding signature packet missing");
    if (e7.signatureType !== this.signatureType || e7.hashAlgorithm !== this.hashAlgorithm || e7.publicKeyAlgorithm !== this.publicKeyAlgorithm || !e7.issuerKeyID.equals(this.issuerKeyID) || 3 === this.version && 6 === e7.version || 6 === this.version && 6 !== e7.version || 6 === this.version && !N4.equalsUint8Array(e7.issuerFingerprint, this.issuerFingerprint) || 6 === this.version && !N4.equalsUint8Array(e7.salt, this.salt)) throw Error("Corresponding signature packet does not match one-pass signature packet");
    return e7.hashed = this.hashed, e7.verify.apply(e7, arguments);
  }
};
function js(e7, t7) {
  if (!t7[e7]) {
    let t8;
    try {
      t8 = M6.read(M6.packet, e7);
    } catch {
      throw new ot3("Unknown packet type with tag: " + e7);
    }
    throw Error("Packet not allowed in this context: " + t8);
  }
  return new t7[e7]();
}
Os.prototype.hash = Ns.prototype.hash, Os.prototype.toHash = Ns.prototype.toHash, Os.prototype.toSign = Ns.prototype.toSign;
var Hs = class _Hs extends Array {
  static async fromBinary(e7, t7, r7 = L3, i7 = null, n7 = false) {
    const s7 = new _Hs();
    return await s7.read(e7, t7, r7, i7, n7), s7;
  }
  async read(e7, t7, r7 = L3, i7 = null, n7 = false) {
    let s7;
    r7.additionalAllowedPackets.length && (s7 = N4.constructAllowedPackets(r7.additionalAllowedPackets), t7 = { ...t7, ...s7 }), this.stream = A6(e7, (async (e8, a8) => {
      const o7 = C6(e8), c6 = B5(a8);
      try {
        let a9 = N4.isStream(e8);
        for (; ; ) {
          let e9, u7;
          if (await c6.ready, await st3(o7, a9, (async (a10) => {
            try {
              if (a10.tag === M6.packet.marker || a10.tag === M6.packet.trust || a10.tag === M6.packet.padding) return;
              const e10 = js(a10.tag, t7);
              try {
                i7?.recordPacket(a10.tag, s7);
              } catch (e11) {
                if (r7.enforceGrammar) throw e11;
                N4.printDebugError(e11);
              }
              e10.packets = new _Hs(), e10.fromStream = N4.isStream(a10.packet), u7 = e10.fromStream;
              try {
                await e10.read(a10.packet, r7);
              } catch (t8) {
                if (!(t8 instanceof at3)) throw N4.wrapError(new ct3(`Parsing ${e10.constructor.name} failed`), t8);
                throw t8;
              }
              await c6.write(e10);
            } catch (t8) {
              const i8 = t8 instanceof ot3 && a10.tag <= 39, s8 = t8 instanceof at3 && !(t8 instanceof ot3) && !r7.ignoreUnsupportedPackets, o8 = t8 instanceof ct3 && !r7.ignoreMalformedPackets, u8 = nt3(a10.tag);
              if (i8 || s8 || o8 || u8 || !(t8 instanceof ot3 || t8 instanceof at3 || t8 instanceof ct3)) n7 ? e9 = t8 : await c6.abort(t8);
              else {
                const e10 = new ut3(a10.tag, a10.packet);
                await c6.write(e10);
              }
              N4.printDebugError(t8);
            }
          })), u7 && (a9 = null), e9) throw await o7.readToEnd(), e9;
          const h6 = await o7.peekBytes(2);
          if (!h6 || !h6.length) {
            try {
              i7?.recordEnd();
            } catch (e10) {
              if (r7.enforceGrammar) throw e10;
              N4.printDebugError(e10);
            }
            return await c6.ready, void await c6.close();
          }
        }
      } catch (e9) {
        await c6.abort(e9);
      }
    }));
    const a7 = C6(this.stream);
    for (; ; ) {
      const { done: e8, value: t8 } = await a7.read();
      if (e8 ? this.stream = null : this.push(t8), e8 || nt3(t8.constructor.tag)) break;
    }
    a7.releaseLock();
  }
  write() {
    const e7 = [];
    for (let t7 = 0; t7 < this.length; t7++) {
      const r7 = this[t7] instanceof ut3 ? this[t7].tag : this[t7].constructor.tag, i7 = this[t7].write();
      if (N4.isStream(i7) && nt3(this[t7].constructor.tag)) {
        let t8 = [], n7 = 0;
        const s7 = 512;
        e7.push(rt3(r7)), e7.push(b4(i7, ((e8) => {
          if (t8.push(e8), n7 += e8.length, n7 >= s7) {
            const e9 = Math.min(Math.log(n7) / Math.LN2 | 0, 30), r8 = 2 ** e9, i8 = N4.concat([tt3(e9)].concat(t8));
            return t8 = [i8.subarray(1 + r8)], n7 = t8[0].length, i8.subarray(0, 1 + r8);
          }
        }), (() => N4.concat([et3(n7)].concat(t8)))));
      } else {
        if (N4.isStream(i7)) {
          let t8 = 0;
          e7.push(b4(E6(i7), ((e8) => {
            t8 += e8.length;
          }), (() => it3(r7, t8))));
        } else e7.push(it3(r7, i7.length));
        e7.push(i7);
      }
    }
    return N4.concat(e7);
  }
  filterByTag(...e7) {
    const t7 = new _Hs(), r7 = (e8) => (t8) => e8 === t8;
    for (let i7 = 0; i7 < this.length; i7++) e7.some(r7(this[i7].constructor.tag)) && t7.push(this[i7]);
    return t7;
  }
  findPacket(e7) {
    return this.find(((t7) => t7.constructor.tag === e7));
  }
  indexOfTag(...e7) {
    const t7 = [], r7 = this, i7 = (e8) => (t8) => e8 === t8;
    for (let n7 = 0; n7 < this.length; n7++) e7.some(i7(r7[n7].constructor.tag)) && t7.push(n7);
    return t7;
  }
};
var Gs = class _Gs extends Error {
  constructor(...e7) {
    super(...e7), Error.captureStackTrace && Error.captureStackTrace(this, _Gs), this.name = "GrammarError";
  }
};
var qs;
!(function(e7) {
  e7[e7.EmptyMessage = 0] = "EmptyMessage", e7[e7.PlaintextOrEncryptedData = 1] = "PlaintextOrEncryptedData", e7[e7.EncryptedSessionKeys = 2] = "EncryptedSessionKeys", e7[e7.StandaloneAdditionalAllowedData = 3] = "StandaloneAdditionalAllowedData";
})(qs || (qs = {}));
var _s = class {
  constructor() {
    this.state = qs.EmptyMessage, this.leadingOnePassSignatureCounter = 0;
  }
  recordPacket(e7, t7) {
    switch (this.state) {
      case qs.EmptyMessage:
      case qs.StandaloneAdditionalAllowedData:
        switch (e7) {
          case M6.packet.literalData:
          case M6.packet.compressedData:
          case M6.packet.aeadEncryptedData:
          case M6.packet.symEncryptedIntegrityProtectedData:
          case M6.packet.symmetricallyEncryptedData:
            return void (this.state = qs.PlaintextOrEncryptedData);
          case M6.packet.signature:
            if (this.state === qs.StandaloneAdditionalAllowedData && --this.leadingOnePassSignatureCounter < 0) throw new Gs("Trailing signature packet without OPS");
            return;
          case M6.packet.onePassSignature:
            if (this.state === qs.StandaloneAdditionalAllowedData) throw new Gs("OPS following StandaloneAdditionalAllowedData");
            return void this.leadingOnePassSignatureCounter++;
          case M6.packet.publicKeyEncryptedSessionKey:
          case M6.packet.symEncryptedSessionKey:
            return void (this.state = qs.EncryptedSessionKeys);
          default:
            if (!t7?.[e7]) throw new Gs(`Unexpected packet ${e7} in state ${this.state}`);
            return void (this.state = qs.StandaloneAdditionalAllowedData);
        }
      case qs.PlaintextOrEncryptedData:
        if (e7 === M6.packet.signature) {
          if (--this.leadingOnePassSignatureCounter < 0) throw new Gs("Trailing signature packet without OPS");
          return void (this.state = qs.PlaintextOrEncryptedData);
        }
        if (!t7?.[e7]) throw new Gs(`Unexpected packet ${e7} in state ${this.state}`);
        return void (this.state = qs.PlaintextOrEncryptedData);
      case qs.EncryptedSessionKeys:
        switch (e7) {
          case M6.packet.publicKeyEncryptedSessionKey:
          case M6.packet.symEncryptedSessionKey:
            return void (this.state = qs.EncryptedSessionKeys);
          case M6.packet.symEncryptedIntegrityProtectedData:
          case M6.packet.aeadEncryptedData:
          case M6.packet.symmetricallyEncryptedData:
            return void (this.state = qs.PlaintextOrEncryptedData);
          case M6.packet.signature:
            if (--this.leadingOnePassSignatureCounter < 0) throw new Gs("Trailing signature packet without OPS");
            return void (this.state = qs.PlaintextOrEncryptedData);
          default:
            if (!t7?.[e7]) throw new Gs(`Unexpected packet ${e7} in state ${this.state}`);
            this.state = qs.EncryptedSessionKeys;
        }
    }
  }
  recordEnd() {
    switch (this.state) {
      case qs.EmptyMessage:
      case qs.PlaintextOrEncryptedData:
      case qs.EncryptedSessionKeys:
      case qs.StandaloneAdditionalAllowedData:
        if (this.leadingOnePassSignatureCounter > 0) throw new Gs("Missing trailing signature packets");
    }
  }
};
var Ws = /* @__PURE__ */ N4.constructAllowedPackets([Bs, Os, Ns]);
var Vs = class {
  static get tag() {
    return M6.packet.compressedData;
  }
  constructor(e7 = L3) {
    this.packets = null, this.algorithm = e7.preferredCompressionAlgorithm, this.compressed = null;
  }
  async read(e7, t7 = L3) {
    await K4(e7, (async (e8) => {
      this.algorithm = await e8.readByte(), this.compressed = e8.remainder(), await this.decompress(t7);
    }));
  }
  write() {
    return null === this.compressed && this.compress(), N4.concat([new Uint8Array([this.algorithm]), this.compressed]);
  }
  async decompress(e7 = L3) {
    const t7 = M6.read(M6.compression, this.algorithm), r7 = Zs[t7];
    if (!r7) throw Error(t7 + " decompression not supported");
    let i7 = await r7(this.compressed, e7);
    if (e7.maxDecompressedMessageSize !== 1 / 0) {
      let t8 = 0;
      i7 = b4(i7, ((r8) => {
        if (t8 += r8.length, t8 > e7.maxDecompressedMessageSize) throw Error("Maximum decompressed message size exceeded");
        return r8;
      }));
    }
    c5(this.compressed) && !a6(this.compressed) || (i7 = await D6(i7)), this.packets = await Hs.fromBinary(i7, Ws, e7, new _s());
  }
  compress() {
    const e7 = M6.read(M6.compression, this.algorithm), t7 = Ys[e7];
    if (!t7) throw Error(e7 + " compression not supported");
    const r7 = this.packets.write();
    let i7 = t7(r7);
    c5(r7) && !a6(r7) || (i7 = I6((() => D6(i7)))), this.compressed = i7;
  }
};
function $s(e7, t7) {
  return (r7, i7) => {
    let n7;
    if (n7 = a6(r7) ? new ReadableStream({ async start(e8) {
      try {
        e8.enqueue(await D6(r7)), e8.close();
      } catch (t8) {
        e8.error(t8);
      }
    } }) : c5(r7) ? r7 : g5(r7), n7 = (function(e8) {
      const t8 = C6(e8);
      return new ReadableStream({ async pull(e9) {
        try {
          const { value: r8, done: i8 } = await t8.read();
          if (i8) return void e9.close();
          for (let t9 = 0; t9 <= r8.length; t9 += 65536) (!t9 || t9 < r8.length) && e9.enqueue(r8.subarray(t9, t9 + 65536));
        } catch (t9) {
          e9.error(t9);
        }
      } }, { highWaterMark: 0 });
    })(n7), e7) try {
      const t8 = e7();
      return n7.pipeThrough(t8);
    } catch (e8) {
      if ("TypeError" !== e8.name) throw e8;
    }
    const s7 = C6(n7), o7 = new t7();
    let u7 = false, h6 = false;
    return new ReadableStream({ start(e8) {
      o7.ondata = (t8, r8) => {
        e8.enqueue(t8), u7 = true, r8 && (e8.close(), h6 = true);
      };
    }, async pull() {
      for (u7 = false; !u7 && !h6; ) {
        const { done: e8, value: t8 } = await s7.read();
        if (e8) return void o7.push(new Uint8Array(), true);
        t8.length && o7.push(t8);
      }
    } }, { highWaterMark: 0 });
  };
}
function Xs() {
  return async function(e7, t7) {
    const { default: r7 } = await Promise.resolve().then(() => (init_unbzip2_stream_min(), unbzip2_stream_min_exports)).then((function(e8) {
      return e8.i;
    }));
    return r7(g5(e7), t7.maxDecompressedMessageSize);
  };
}
var Qs = (e7) => ({ compressor: "undefined" != typeof CompressionStream && (() => new CompressionStream(e7)), decompressor: "undefined" != typeof DecompressionStream && (() => new DecompressionStream(e7)) });
var Ys = { zip: /* @__PURE__ */ $s(Qs("deflate-raw").compressor, Us), zlib: /* @__PURE__ */ $s(Qs("deflate").compressor, xs) };
var Zs = { uncompressed: (e7, t7) => e7, zip: /* @__PURE__ */ $s(Qs("deflate-raw").decompressor, Ds), zlib: /* @__PURE__ */ $s(Qs("deflate").decompressor, Is), bzip2: /* @__PURE__ */ Xs() };
function Js(e7, t7, r7) {
  if ("function" == typeof e7.setBigUint64) return e7.setBigUint64(t7, BigInt(r7));
  if (r7 <= 4294967295) e7.setUint32(t7, 0), e7.setUint32(t7 + 4, r7);
  else {
    const i7 = BigInt(r7);
    e7.setUint32(t7, Number(i7 >> BigInt(32))), e7.setUint32(t7 + 4, Number(i7 & BigInt(4294967295)));
  }
}
var ea = /* @__PURE__ */ N4.constructAllowedPackets([Bs, Vs, Os, Ns]);
var ta = class _ta {
  static get tag() {
    return M6.packet.symEncryptedIntegrityProtectedData;
  }
  static fromObject({ version: e7, aeadAlgorithm: t7 }) {
    if (1 !== e7 && 2 !== e7) throw Error("Unsupported SEIPD version");
    const r7 = new _ta();
    return r7.version = e7, 2 === e7 && (r7.aeadAlgorithm = t7), r7;
  }
  constructor() {
    this.version = null, this.cipherAlgorithm = null, this.aeadAlgorithm = null, this.chunkSizeByte = null, this.salt = null, this.encrypted = null, this.packets = null;
  }
  async read(e7) {
    await K4(e7, (async (e8) => {
      if (this.version = await e8.readByte(), 1 !== this.version && 2 !== this.version) throw new at3(`Version ${this.version} of the SEIP packet is unsupported.`);
      2 === this.version && (this.cipherAlgorithm = await e8.readByte(), this.aeadAlgorithm = await e8.readByte(), this.chunkSizeByte = await e8.readByte(), this.salt = await e8.readBytes(32)), this.encrypted = e8.remainder();
    }));
  }
  write() {
    return 2 === this.version ? N4.concat([new Uint8Array([this.version, this.cipherAlgorithm, this.aeadAlgorithm, this.chunkSizeByte]), this.salt, this.encrypted]) : N4.concat([new Uint8Array([this.version]), this.encrypted]);
  }
  async encrypt(e7, t7, r7 = L3) {
    const { blockSize: i7, keySize: n7 } = Pr(e7);
    if (t7.length !== n7) throw Error("Unexpected session key size");
    let s7 = this.packets.write();
    if (a6(s7) && (s7 = await D6(s7)), 2 === this.version) this.cipherAlgorithm = e7, this.salt = ge2(32), this.chunkSizeByte = r7.aeadChunkSizeByte, this.encrypted = await ra(this, "encrypt", t7, s7);
    else {
      const r8 = await ji(e7), n8 = new Uint8Array([211, 20]), a7 = N4.concat([r8, s7, n8]), o7 = await Me(M6.hash.sha1, S5(a7)), c6 = N4.concat([a7, o7]);
      this.encrypted = await Hi(e7, t7, c6, new Uint8Array(i7));
    }
    return true;
  }
  async decrypt(e7, t7, r7 = L3) {
    if (t7.length !== Pr(e7).keySize) throw Error("Unexpected session key size");
    let i7, n7 = E6(this.encrypted);
    a6(n7) && (n7 = await D6(n7));
    let s7 = false;
    if (2 === this.version) {
      if (this.cipherAlgorithm !== e7) throw Error("Unexpected session key algorithm");
      i7 = await ra(this, "decrypt", t7, n7);
    } else {
      const { blockSize: a7 } = Pr(e7), o7 = await Gi(e7, t7, n7, new Uint8Array(a7)), c6 = U6(S5(o7), -20), u7 = U6(o7, 0, -20), h6 = Promise.all([D6(await Me(M6.hash.sha1, S5(u7))), D6(c6)]).then((([e8, t8]) => {
        if (!N4.equalsUint8Array(e8, t8)) throw Error("Modification detected.");
        return new Uint8Array();
      })), y7 = U6(u7, a7 + 2);
      i7 = U6(y7, 0, -2), i7 = f6([i7, I6((() => h6))]), N4.isStream(n7) && r7.allowUnauthenticatedStream ? s7 = true : i7 = await D6(i7);
    }
    return this.packets = await Hs.fromBinary(i7, ea, r7, new _s(), s7), true;
  }
};
async function ra(e7, t7, r7, i7) {
  const n7 = e7 instanceof ta && 2 === e7.version, s7 = !n7 && e7.constructor.tag === M6.packet.aeadEncryptedData;
  if (!n7 && !s7) throw Error("Unexpected packet type");
  const a7 = Un(e7.aeadAlgorithm, s7), o7 = "decrypt" === t7 ? a7.tagLength : 0, c6 = "encrypt" === t7 ? a7.tagLength : 0, u7 = 2 ** (e7.chunkSizeByte + 6) + o7, h6 = s7 ? 8 : 0, y7 = new ArrayBuffer(13 + h6), l5 = new Uint8Array(y7, 0, 5 + h6), p4 = new Uint8Array(y7), g6 = new DataView(y7), d5 = new Uint8Array(y7, 5, 8);
  l5.set([192 | e7.constructor.tag, e7.version, e7.cipherAlgorithm, e7.aeadAlgorithm, e7.chunkSizeByte], 0);
  let f7, w7, b5 = 0, k6 = Promise.resolve(), v6 = 0, K5 = 0;
  if (n7) {
    const { keySize: t8 } = Pr(e7.cipherAlgorithm), { ivLength: i8 } = a7, n8 = new Uint8Array(y7, 0, 5), s8 = await Ir(M6.hash.sha256, r7, e7.salt, n8, t8 + i8);
    r7 = s8.subarray(0, t8), f7 = s8.subarray(t8), f7.fill(0, f7.length - 8), w7 = new DataView(f7.buffer, f7.byteOffset, f7.byteLength);
  } else f7 = e7.iv;
  const E7 = await a7(e7.cipherAlgorithm, r7);
  return A6(i7, (async (r8, i8) => {
    if ("array" !== N4.isStream(r8)) {
      const t8 = new TransformStream({}, { highWaterMark: N4.getHardwareConcurrency() * 2 ** (e7.chunkSizeByte + 6), size: (e8) => e8.length });
      m4(t8.readable, i8), i8 = t8.writable;
    }
    const s8 = C6(r8), a8 = B5(i8);
    try {
      for (; ; ) {
        let e8 = await s8.readBytes(u7 + o7) || new Uint8Array();
        const r9 = e8.subarray(e8.length - o7);
        let i9, y8, m5;
        if (e8 = e8.subarray(0, e8.length - o7), n7) m5 = f7;
        else {
          m5 = f7.slice();
          for (let e9 = 0; e9 < 8; e9++) m5[f7.length - 8 + e9] ^= d5[e9];
        }
        if (!b5 || e8.length ? (s8.unshift(r9), i9 = E7[t7](e8, m5, l5), i9.catch((() => {
        })), K5 += e8.length - o7 + c6) : (Js(g6, 5 + h6, v6), i9 = E7[t7](r9, m5, p4), i9.catch((() => {
        })), K5 += c6, y8 = true), v6 += e8.length - o7, k6 = k6.then((() => i9)).then((async (e9) => {
          await a8.ready, await a8.write(e9), K5 -= e9.length;
        })).catch(((e9) => a8.abort(e9))), (y8 || K5 > a8.desiredSize) && await k6, y8) {
          await a8.close();
          break;
        }
        n7 ? Js(w7, f7.length - 8, ++b5) : Js(g6, 5, ++b5);
      }
    } catch (e8) {
      await a8.ready.catch((() => {
      })), await a8.abort(e8);
    }
  }));
}
var sa = class _sa {
  static get tag() {
    return M6.packet.publicKeyEncryptedSessionKey;
  }
  constructor() {
    this.version = null, this.publicKeyID = new Ts(), this.publicKeyVersion = null, this.publicKeyFingerprint = null, this.publicKeyAlgorithm = null, this.sessionKey = null, this.sessionKeyAlgorithm = null, this.encrypted = {};
  }
  static fromObject({ version: e7, encryptionKeyPacket: t7, anonymousRecipient: r7, sessionKey: i7, sessionKeyAlgorithm: n7 }) {
    const s7 = new _sa();
    if (3 !== e7 && 6 !== e7) throw Error("Unsupported PKESK version");
    return s7.version = e7, 6 === e7 && (s7.publicKeyVersion = r7 ? null : t7.version, s7.publicKeyFingerprint = r7 ? null : t7.getFingerprintBytes()), s7.publicKeyID = r7 ? Ts.wildcard() : t7.getKeyID(), s7.publicKeyAlgorithm = t7.algorithm, s7.sessionKey = i7, s7.sessionKeyAlgorithm = n7, s7;
  }
  read(e7) {
    let t7 = 0;
    if (this.version = e7[t7++], 3 !== this.version && 6 !== this.version) throw new at3(`Version ${this.version} of the PKESK packet is unsupported.`);
    if (6 === this.version) {
      const r7 = e7[t7++];
      if (r7) {
        this.publicKeyVersion = e7[t7++];
        const i7 = r7 - 1;
        this.publicKeyFingerprint = e7.subarray(t7, t7 + i7), t7 += i7, this.publicKeyVersion >= 5 ? this.publicKeyID.read(this.publicKeyFingerprint) : this.publicKeyID.read(this.publicKeyFingerprint.subarray(-8));
      } else this.publicKeyID = Ts.wildcard();
    } else t7 += this.publicKeyID.read(e7.subarray(t7, t7 + 8));
    if (this.publicKeyAlgorithm = e7[t7++], this.encrypted = (function(e8, t8) {
      let r7 = 0;
      switch (e8) {
        case M6.publicKey.rsaEncrypt:
        case M6.publicKey.rsaEncryptSign:
          return { c: N4.readMPI(t8.subarray(r7)) };
        case M6.publicKey.elgamal: {
          const e9 = N4.readMPI(t8.subarray(r7));
          return r7 += e9.length + 2, { c1: e9, c2: N4.readMPI(t8.subarray(r7)) };
        }
        case M6.publicKey.ecdh: {
          const e9 = N4.readMPI(t8.subarray(r7));
          r7 += e9.length + 2;
          const i7 = new Si();
          return i7.read(t8.subarray(r7)), { V: e9, C: i7 };
        }
        case M6.publicKey.x25519:
        case M6.publicKey.x448: {
          const i7 = Fi(e8), n7 = N4.readExactSubarray(t8, r7, r7 + i7);
          r7 += n7.length;
          const s7 = new Ui();
          return s7.read(t8.subarray(r7)), { ephemeralPublicKey: n7, C: s7 };
        }
        default:
          throw new at3("Unknown public key encryption algorithm.");
      }
    })(this.publicKeyAlgorithm, e7.subarray(t7)), this.publicKeyAlgorithm === M6.publicKey.x25519 || this.publicKeyAlgorithm === M6.publicKey.x448) {
      if (3 === this.version) this.sessionKeyAlgorithm = M6.write(M6.symmetric, this.encrypted.C.algorithm);
      else if (null !== this.encrypted.C.algorithm) throw Error("Unexpected cleartext symmetric algorithm");
    }
  }
  write() {
    const e7 = [new Uint8Array([this.version])];
    return 6 === this.version ? null !== this.publicKeyFingerprint ? (e7.push(new Uint8Array([this.publicKeyFingerprint.length + 1, this.publicKeyVersion])), e7.push(this.publicKeyFingerprint)) : e7.push(new Uint8Array([0])) : e7.push(this.publicKeyID.write()), e7.push(new Uint8Array([this.publicKeyAlgorithm]), Ci(this.publicKeyAlgorithm, this.encrypted)), N4.concatUint8Array(e7);
  }
  async encrypt(e7) {
    const t7 = M6.write(M6.publicKey, this.publicKeyAlgorithm), r7 = 3 === this.version ? this.sessionKeyAlgorithm : null, i7 = 5 === e7.version ? e7.getFingerprintBytes().subarray(0, 20) : e7.getFingerprintBytes(), n7 = aa(this.version, t7, r7, this.sessionKey);
    this.encrypted = await Di(t7, r7, e7.publicParams, n7, i7);
  }
  async decrypt(e7, t7) {
    if (this.publicKeyAlgorithm !== e7.algorithm) throw Error("Decryption error");
    const r7 = t7 ? aa(this.version, this.publicKeyAlgorithm, t7.sessionKeyAlgorithm, t7.sessionKey) : null, i7 = 5 === e7.version ? e7.getFingerprintBytes().subarray(0, 20) : e7.getFingerprintBytes(), n7 = await xi(this.publicKeyAlgorithm, e7.publicParams, e7.privateParams, this.encrypted, i7, r7), { sessionKey: s7, sessionKeyAlgorithm: a7 } = (function(e8, t8, r8, i8) {
      switch (t8) {
        case M6.publicKey.rsaEncrypt:
        case M6.publicKey.rsaEncryptSign:
        case M6.publicKey.elgamal:
        case M6.publicKey.ecdh: {
          const t9 = r8.subarray(0, r8.length - 2), n8 = r8.subarray(r8.length - 2), s8 = N4.writeChecksum(t9.subarray(t9.length % 8)), a8 = s8[0] === n8[0] & s8[1] === n8[1], o7 = 6 === e8 ? { sessionKeyAlgorithm: null, sessionKey: t9 } : { sessionKeyAlgorithm: t9[0], sessionKey: t9.subarray(1) };
          if (i8) {
            const t10 = a8 & o7.sessionKeyAlgorithm === i8.sessionKeyAlgorithm & o7.sessionKey.length === i8.sessionKey.length;
            return { sessionKey: N4.selectUint8Array(t10, o7.sessionKey, i8.sessionKey), sessionKeyAlgorithm: 6 === e8 ? null : N4.selectUint8(t10, o7.sessionKeyAlgorithm, i8.sessionKeyAlgorithm) };
          }
          if (a8 && (6 === e8 || M6.read(M6.symmetric, o7.sessionKeyAlgorithm))) return o7;
          throw Error("Decryption error");
        }
        case M6.publicKey.x25519:
        case M6.publicKey.x448:
          return { sessionKeyAlgorithm: null, sessionKey: r8 };
        default:
          throw Error("Unsupported public key algorithm");
      }
    })(this.version, this.publicKeyAlgorithm, n7, t7);
    if (3 === this.version) {
      const e8 = this.publicKeyAlgorithm !== M6.publicKey.x25519 && this.publicKeyAlgorithm !== M6.publicKey.x448;
      if (this.sessionKeyAlgorithm = e8 ? a7 : this.sessionKeyAlgorithm, s7.length !== Pr(this.sessionKeyAlgorithm).keySize) throw Error("Unexpected session key size");
    }
    this.sessionKey = s7;
  }
};
function aa(e7, t7, r7, i7) {
  switch (t7) {
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.elgamal:
    case M6.publicKey.ecdh:
      return N4.concatUint8Array([new Uint8Array(6 === e7 ? [] : [r7]), i7, N4.writeChecksum(i7.subarray(i7.length % 8))]);
    case M6.publicKey.x25519:
    case M6.publicKey.x448:
      return i7;
    default:
      throw Error("Unsupported public key algorithm");
  }
}
var oa = class _oa {
  static get tag() {
    return M6.packet.symEncryptedSessionKey;
  }
  constructor(e7 = L3) {
    this.version = e7.aeadProtect ? 6 : 4, this.sessionKey = null, this.sessionKeyEncryptionAlgorithm = null, this.sessionKeyAlgorithm = null, this.aeadAlgorithm = M6.write(M6.aead, e7.preferredAEADAlgorithm), this.encrypted = null, this.s2k = null, this.iv = null;
  }
  read(e7) {
    let t7 = 0;
    if (this.version = e7[t7++], 4 !== this.version && 5 !== this.version && 6 !== this.version) throw new at3(`Version ${this.version} of the SKESK packet is unsupported.`);
    6 === this.version && t7++;
    const r7 = e7[t7++];
    this.version >= 5 && (this.aeadAlgorithm = e7[t7++], 6 === this.version && t7++);
    const i7 = e7[t7++];
    if (this.s2k = Fn(i7), t7 += this.s2k.read(e7.subarray(t7, e7.length)), this.version >= 5) {
      const r8 = Un(this.aeadAlgorithm, true);
      this.iv = e7.subarray(t7, t7 += r8.ivLength);
    }
    this.version >= 5 || t7 < e7.length ? (this.encrypted = e7.subarray(t7, e7.length), this.sessionKeyEncryptionAlgorithm = r7) : this.sessionKeyAlgorithm = r7;
  }
  write() {
    const e7 = null === this.encrypted ? this.sessionKeyAlgorithm : this.sessionKeyEncryptionAlgorithm;
    let t7;
    const r7 = this.s2k.write();
    if (6 === this.version) {
      const i7 = r7.length, n7 = 3 + i7 + this.iv.length;
      t7 = N4.concatUint8Array([new Uint8Array([this.version, n7, e7, this.aeadAlgorithm, i7]), r7, this.iv, this.encrypted]);
    } else 5 === this.version ? t7 = N4.concatUint8Array([new Uint8Array([this.version, e7, this.aeadAlgorithm]), r7, this.iv, this.encrypted]) : (t7 = N4.concatUint8Array([new Uint8Array([this.version, e7]), r7]), null !== this.encrypted && (t7 = N4.concatUint8Array([t7, this.encrypted])));
    return t7;
  }
  async decrypt(e7, t7 = L3) {
    const r7 = null !== this.sessionKeyEncryptionAlgorithm ? this.sessionKeyEncryptionAlgorithm : this.sessionKeyAlgorithm, { blockSize: i7, keySize: n7 } = Pr(r7), s7 = await this.s2k.produceKey(e7, n7, t7);
    if (this.version >= 5) {
      const e8 = Un(this.aeadAlgorithm, true), t8 = new Uint8Array([192 | _oa.tag, this.version, this.sessionKeyEncryptionAlgorithm, this.aeadAlgorithm]), i8 = 6 === this.version ? await Ir(M6.hash.sha256, s7, new Uint8Array(), t8, n7) : s7, a7 = await e8(r7, i8);
      this.sessionKey = await a7.decrypt(this.encrypted, this.iv, t8);
    } else if (null !== this.encrypted) {
      const e8 = await Gi(r7, s7, this.encrypted, new Uint8Array(i7));
      if (this.sessionKeyAlgorithm = M6.write(M6.symmetric, e8[0]), this.sessionKey = e8.subarray(1, e8.length), this.sessionKey.length !== Pr(this.sessionKeyAlgorithm).keySize) throw Error("Unexpected session key size");
    } else this.sessionKey = s7;
  }
  async encrypt(e7, t7 = L3) {
    const r7 = null !== this.sessionKeyEncryptionAlgorithm ? this.sessionKeyEncryptionAlgorithm : this.sessionKeyAlgorithm;
    this.sessionKeyEncryptionAlgorithm = r7, this.s2k = Nn(t7), this.s2k.generateSalt();
    const { blockSize: i7, keySize: n7 } = Pr(r7), s7 = await this.s2k.produceKey(e7, n7, t7);
    if (null === this.sessionKey && (this.sessionKey = Mi(this.sessionKeyAlgorithm)), this.version >= 5) {
      const e8 = Un(this.aeadAlgorithm);
      this.iv = ge2(e8.ivLength);
      const t8 = new Uint8Array([192 | _oa.tag, this.version, this.sessionKeyEncryptionAlgorithm, this.aeadAlgorithm]), i8 = 6 === this.version ? await Ir(M6.hash.sha256, s7, new Uint8Array(), t8, n7) : s7, a7 = await e8(r7, i8);
      this.encrypted = await a7.encrypt(this.sessionKey, this.iv, t8);
    } else {
      const e8 = N4.concatUint8Array([new Uint8Array([this.sessionKeyAlgorithm]), this.sessionKey]);
      this.encrypted = await Hi(r7, s7, e8, new Uint8Array(i7));
    }
  }
};
var ca = class _ca {
  static get tag() {
    return M6.packet.publicKey;
  }
  constructor(e7 = /* @__PURE__ */ new Date(), t7 = L3) {
    this.version = t7.v6Keys ? 6 : 4, this.created = N4.normalizeDate(e7), this.algorithm = null, this.publicParams = null, this.expirationTimeV3 = 0, this.fingerprint = null, this.keyID = null;
  }
  static fromSecretKeyPacket(e7) {
    const t7 = new _ca(), { version: r7, created: i7, algorithm: n7, publicParams: s7, keyID: a7, fingerprint: o7 } = e7;
    return t7.version = r7, t7.created = i7, t7.algorithm = n7, t7.publicParams = s7, t7.keyID = a7, t7.fingerprint = o7, t7;
  }
  async read(e7, t7 = L3) {
    let r7 = 0;
    if (this.version = e7[r7++], 5 === this.version && !t7.enableParsingV5Entities) throw new at3("Support for parsing v5 entities is disabled; turn on `config.enableParsingV5Entities` if needed");
    if (4 === this.version || 5 === this.version || 6 === this.version) {
      this.created = N4.readDate(e7.subarray(r7, r7 + 4)), r7 += 4, this.algorithm = e7[r7++], this.version >= 5 && (r7 += 4);
      const { read: t8, publicParams: i7 } = (function(e8, t9) {
        let r8 = 0;
        switch (e8) {
          case M6.publicKey.rsaEncrypt:
          case M6.publicKey.rsaEncryptSign:
          case M6.publicKey.rsaSign: {
            const e9 = N4.readMPI(t9.subarray(r8));
            r8 += e9.length + 2;
            const i8 = N4.readMPI(t9.subarray(r8));
            return r8 += i8.length + 2, { read: r8, publicParams: { n: e9, e: i8 } };
          }
          case M6.publicKey.dsa: {
            const e9 = N4.readMPI(t9.subarray(r8));
            r8 += e9.length + 2;
            const i8 = N4.readMPI(t9.subarray(r8));
            r8 += i8.length + 2;
            const n7 = N4.readMPI(t9.subarray(r8));
            r8 += n7.length + 2;
            const s7 = N4.readMPI(t9.subarray(r8));
            return r8 += s7.length + 2, { read: r8, publicParams: { p: e9, q: i8, g: n7, y: s7 } };
          }
          case M6.publicKey.elgamal: {
            const e9 = N4.readMPI(t9.subarray(r8));
            r8 += e9.length + 2;
            const i8 = N4.readMPI(t9.subarray(r8));
            r8 += i8.length + 2;
            const n7 = N4.readMPI(t9.subarray(r8));
            return r8 += n7.length + 2, { read: r8, publicParams: { p: e9, g: i8, y: n7 } };
          }
          case M6.publicKey.ecdsa: {
            const e9 = new Ze2();
            r8 += e9.read(t9), Li(e9);
            const i8 = N4.readMPI(t9.subarray(r8));
            return r8 += i8.length + 2, { read: r8, publicParams: { oid: e9, Q: i8 } };
          }
          case M6.publicKey.eddsaLegacy: {
            const e9 = new Ze2();
            if (r8 += e9.read(t9), Li(e9), e9.getName() !== M6.curve.ed25519Legacy) throw Error("Unexpected OID for eddsaLegacy");
            let i8 = N4.readMPI(t9.subarray(r8));
            return r8 += i8.length + 2, i8 = N4.leftPad(i8, 33), { read: r8, publicParams: { oid: e9, Q: i8 } };
          }
          case M6.publicKey.ecdh: {
            const e9 = new Ze2();
            r8 += e9.read(t9), Li(e9);
            const i8 = N4.readMPI(t9.subarray(r8));
            r8 += i8.length + 2;
            const n7 = new Pi();
            return r8 += n7.read(t9.subarray(r8)), { read: r8, publicParams: { oid: e9, Q: i8, kdfParams: n7 } };
          }
          case M6.publicKey.ed25519:
          case M6.publicKey.ed448:
          case M6.publicKey.x25519:
          case M6.publicKey.x448: {
            const i8 = N4.readExactSubarray(t9, r8, r8 + Fi(e8));
            return r8 += i8.length, { read: r8, publicParams: { A: i8 } };
          }
          default:
            throw new at3("Unknown public key encryption algorithm.");
        }
      })(this.algorithm, e7.subarray(r7));
      if (6 === this.version && i7.oid && (i7.oid.getName() === M6.curve.curve25519Legacy || i7.oid.getName() === M6.curve.ed25519Legacy)) throw Error("Legacy curve25519 cannot be used with v6 keys");
      return this.publicParams = i7, r7 += t8, await this.computeFingerprintAndKeyID(), r7;
    }
    throw new at3(`Version ${this.version} of the key packet is unsupported.`);
  }
  write() {
    const e7 = [];
    e7.push(new Uint8Array([this.version])), e7.push(N4.writeDate(this.created)), e7.push(new Uint8Array([this.algorithm]));
    const t7 = Ci(this.algorithm, this.publicParams);
    return this.version >= 5 && e7.push(N4.writeNumber(t7.length, 4)), e7.push(t7), N4.concatUint8Array(e7);
  }
  writeForHash(e7) {
    const t7 = this.writePublicKey(), r7 = 149 + e7, i7 = e7 >= 5 ? 4 : 2;
    return N4.concatUint8Array([new Uint8Array([r7]), N4.writeNumber(t7.length, i7), t7]);
  }
  isDecrypted() {
    return null;
  }
  getCreationTime() {
    return this.created;
  }
  getKeyID() {
    return this.keyID;
  }
  async computeFingerprintAndKeyID() {
    if (await this.computeFingerprint(), this.keyID = new Ts(), this.version >= 5) this.keyID.read(this.fingerprint.subarray(0, 8));
    else {
      if (4 !== this.version) throw Error("Unsupported key version");
      this.keyID.read(this.fingerprint.subarray(12, 20));
    }
  }
  async computeFingerprint() {
    const e7 = this.writeForHash(this.version);
    if (this.version >= 5) this.fingerprint = await Me(M6.hash.sha256, e7);
    else {
      if (4 !== this.version) throw Error("Unsupported key version");
      this.fingerprint = await Me(M6.hash.sha1, e7);
    }
  }
  getFingerprintBytes() {
    return this.fingerprint;
  }
  getFingerprint() {
    return N4.uint8ArrayToHex(this.getFingerprintBytes());
  }
  hasSameFingerprintAs(e7) {
    return this.version === e7.version && N4.equalsUint8Array(this.writePublicKey(), e7.writePublicKey());
  }
  getAlgorithmInfo() {
    const e7 = {};
    e7.algorithm = M6.read(M6.publicKey, this.algorithm);
    const t7 = this.publicParams.n || this.publicParams.p;
    return t7 ? e7.bits = N4.uint8ArrayBitLength(t7) : this.publicParams.oid && (e7.curve = this.publicParams.oid.getName()), e7;
  }
};
ca.prototype.readPublicKey = ca.prototype.read, ca.prototype.writePublicKey = ca.prototype.write;
var la = class _la extends ca {
  static get tag() {
    return M6.packet.publicSubkey;
  }
  constructor(e7, t7) {
    super(e7, t7);
  }
  static fromSecretSubkeyPacket(e7) {
    const t7 = new _la(), { version: r7, created: i7, algorithm: n7, publicParams: s7, keyID: a7, fingerprint: o7 } = e7;
    return t7.version = r7, t7.created = i7, t7.algorithm = n7, t7.publicParams = s7, t7.keyID = a7, t7.fingerprint = o7, t7;
  }
};
var pa = class _pa {
  static get tag() {
    return M6.packet.userAttribute;
  }
  constructor() {
    this.attributes = [];
  }
  read(e7) {
    let t7 = 0;
    for (; t7 < e7.length; ) {
      const r7 = Je(e7.subarray(t7, e7.length));
      t7 += r7.offset, this.attributes.push(N4.uint8ArrayToString(e7.subarray(t7, t7 + r7.len))), t7 += r7.len;
    }
  }
  write() {
    const e7 = [];
    for (let t7 = 0; t7 < this.attributes.length; t7++) e7.push(et3(this.attributes[t7].length)), e7.push(N4.stringToUint8Array(this.attributes[t7]));
    return N4.concatUint8Array(e7);
  }
  equals(e7) {
    return !!(e7 && e7 instanceof _pa) && this.attributes.every((function(t7, r7) {
      return t7 === e7.attributes[r7];
    }));
  }
};
var ga = class extends ca {
  static get tag() {
    return M6.packet.secretKey;
  }
  constructor(e7 = /* @__PURE__ */ new Date(), t7 = L3) {
    super(e7, t7), this.keyMaterial = null, this.isEncrypted = null, this.s2kUsage = 0, this.s2k = null, this.symmetric = null, this.aead = null, this.isLegacyAEAD = null, this.privateParams = null, this.usedModernAEAD = null;
  }
  async read(e7, t7 = L3) {
    let r7 = await this.readPublicKey(e7, t7);
    const i7 = r7;
    this.s2kUsage = e7[r7++], 5 === this.version && r7++, 6 === this.version && this.s2kUsage && r7++;
    try {
      if (255 === this.s2kUsage || 254 === this.s2kUsage || 253 === this.s2kUsage) {
        this.symmetric = e7[r7++], 253 === this.s2kUsage && (this.aead = e7[r7++]), 6 === this.version && r7++;
        const t8 = e7[r7++];
        if (this.s2k = Fn(t8), r7 += this.s2k.read(e7.subarray(r7, e7.length)), "gnu-dummy" === this.s2k.type) return;
      } else this.s2kUsage && (this.symmetric = this.s2kUsage);
      this.s2kUsage && (this.isLegacyAEAD = 253 === this.s2kUsage && (5 === this.version || 4 === this.version && t7.parseAEADEncryptedV4KeysAsLegacy), 253 !== this.s2kUsage || this.isLegacyAEAD ? (this.iv = e7.subarray(r7, r7 + Pr(this.symmetric).blockSize), this.usedModernAEAD = false) : (this.iv = e7.subarray(r7, r7 + Un(this.aead).ivLength), this.usedModernAEAD = true), r7 += this.iv.length);
    } catch (t8) {
      if (!this.s2kUsage) throw t8;
      this.unparseableKeyMaterial = e7.subarray(i7), this.isEncrypted = true;
    }
    if (5 === this.version && (r7 += 4), this.keyMaterial = e7.subarray(r7), this.isEncrypted = !!this.s2kUsage, !this.isEncrypted) {
      let e8;
      if (6 === this.version) e8 = this.keyMaterial;
      else if (e8 = this.keyMaterial.subarray(0, -2), !N4.equalsUint8Array(N4.writeChecksum(e8), this.keyMaterial.subarray(-2))) throw Error("Key checksum mismatch");
      try {
        const { read: t8, privateParams: r8 } = Ii(this.algorithm, e8, this.publicParams);
        if (t8 < e8.length) throw Error("Error reading MPIs");
        this.privateParams = r8;
      } catch (e9) {
        if (e9 instanceof at3) throw e9;
        throw Error("Error reading MPIs");
      }
    }
  }
  write() {
    const e7 = this.writePublicKey();
    if (this.unparseableKeyMaterial) return N4.concatUint8Array([e7, this.unparseableKeyMaterial]);
    const t7 = [e7];
    t7.push(new Uint8Array([this.s2kUsage]));
    const r7 = [];
    if (255 === this.s2kUsage || 254 === this.s2kUsage || 253 === this.s2kUsage) {
      r7.push(this.symmetric), 253 === this.s2kUsage && r7.push(this.aead);
      const e8 = this.s2k.write();
      6 === this.version && r7.push(e8.length), r7.push(...e8);
    }
    return this.s2kUsage && "gnu-dummy" !== this.s2k.type && r7.push(...this.iv), (5 === this.version || 6 === this.version && this.s2kUsage) && t7.push(new Uint8Array([r7.length])), t7.push(new Uint8Array(r7)), this.isDummy() || (this.s2kUsage || (this.keyMaterial = Ci(this.algorithm, this.privateParams)), 5 === this.version && t7.push(N4.writeNumber(this.keyMaterial.length, 4)), t7.push(this.keyMaterial), this.s2kUsage || 6 === this.version || t7.push(N4.writeChecksum(this.keyMaterial))), N4.concatUint8Array(t7);
  }
  isDecrypted() {
    return false === this.isEncrypted;
  }
  isMissingSecretKeyMaterial() {
    return void 0 !== this.unparseableKeyMaterial || this.isDummy();
  }
  isDummy() {
    return !(!this.s2k || "gnu-dummy" !== this.s2k.type);
  }
  makeDummy(e7 = L3) {
    this.isDummy() || (this.isDecrypted() && this.clearPrivateParams(), delete this.unparseableKeyMaterial, this.isEncrypted = null, this.keyMaterial = null, this.s2k = Fn(M6.s2k.gnu, e7), this.s2k.algorithm = 0, this.s2k.c = 0, this.s2k.type = "gnu-dummy", this.s2kUsage = 254, this.symmetric = M6.symmetric.aes256, this.isLegacyAEAD = null, this.usedModernAEAD = null);
  }
  async encrypt(e7, t7 = L3) {
    if (this.isDummy()) return;
    if (!this.isDecrypted()) throw Error("Key packet is already encrypted");
    if (!e7) throw Error("A non-empty passphrase is required for key encryption.");
    this.s2k = Nn(t7), this.s2k.generateSalt();
    const r7 = Ci(this.algorithm, this.privateParams);
    this.symmetric = M6.symmetric.aes256;
    const { blockSize: i7 } = Pr(this.symmetric);
    if (t7.aeadProtect) {
      this.s2kUsage = 253, this.aead = t7.preferredAEADAlgorithm;
      const n7 = Un(this.aead);
      this.isLegacyAEAD = 5 === this.version, this.usedModernAEAD = !this.isLegacyAEAD;
      const s7 = rt3(this.constructor.tag), a7 = await da(this.version, this.s2k, e7, this.symmetric, this.aead, s7, this.isLegacyAEAD, t7), o7 = await n7(this.symmetric, a7);
      this.iv = this.isLegacyAEAD ? ge2(i7) : ge2(n7.ivLength);
      const c6 = this.isLegacyAEAD ? new Uint8Array() : N4.concatUint8Array([s7, this.writePublicKey()]);
      this.keyMaterial = await o7.encrypt(r7, this.iv.subarray(0, n7.ivLength), c6);
    } else {
      this.s2kUsage = 254, this.usedModernAEAD = false;
      const n7 = await da(this.version, this.s2k, e7, this.symmetric, void 0, void 0, void 0, t7);
      this.iv = ge2(i7), this.keyMaterial = await Hi(this.symmetric, n7, N4.concatUint8Array([r7, await Me(M6.hash.sha1, r7)]), this.iv);
    }
  }
  async decrypt(e7, t7 = L3) {
    if (this.isDummy()) return false;
    if (this.unparseableKeyMaterial) throw Error("Key packet cannot be decrypted: unsupported S2K or cipher algo");
    if (this.isDecrypted()) throw Error("Key packet is already decrypted.");
    let r7;
    const i7 = rt3(this.constructor.tag);
    if (254 !== this.s2kUsage && 253 !== this.s2kUsage) throw 255 === this.s2kUsage ? Error("Encrypted private key is authenticated using an insecure two-byte hash") : Error("Private key is encrypted using an insecure S2K function: unsalted MD5");
    let n7;
    if (r7 = await da(this.version, this.s2k, e7, this.symmetric, this.aead, i7, this.isLegacyAEAD, t7), 253 === this.s2kUsage) {
      const e8 = Un(this.aead, true), t8 = await e8(this.symmetric, r7);
      try {
        const r8 = this.isLegacyAEAD ? new Uint8Array() : N4.concatUint8Array([i7, this.writePublicKey()]);
        n7 = await t8.decrypt(this.keyMaterial, this.iv.subarray(0, e8.ivLength), r8);
      } catch (e9) {
        if ("Authentication tag mismatch" === e9.message) throw Error("Incorrect key passphrase: " + e9.message);
        throw e9;
      }
    } else {
      const e8 = await Gi(this.symmetric, r7, this.keyMaterial, this.iv);
      n7 = e8.subarray(0, -20);
      const t8 = await Me(M6.hash.sha1, n7);
      if (!N4.equalsUint8Array(t8, e8.subarray(-20))) throw Error("Incorrect key passphrase");
    }
    try {
      const { privateParams: e8 } = Ii(this.algorithm, n7, this.publicParams);
      this.privateParams = e8;
    } catch {
      throw Error("Error reading MPIs");
    }
    this.isEncrypted = false, this.keyMaterial = null, this.s2kUsage = 0, this.aead = null, this.symmetric = null, this.isLegacyAEAD = null;
  }
  async validate() {
    if (this.isDummy()) return;
    if (!this.isDecrypted()) throw Error("Key is not decrypted");
    if (this.usedModernAEAD) return;
    let e7;
    try {
      e7 = await Ti(this.algorithm, this.publicParams, this.privateParams);
    } catch {
      e7 = false;
    }
    if (!e7) throw Error("Key is invalid");
  }
  async generate(e7, t7) {
    if (6 === this.version && (this.algorithm === M6.publicKey.ecdh && t7 === M6.curve.curve25519Legacy || this.algorithm === M6.publicKey.eddsaLegacy)) throw Error(`Cannot generate v6 keys of type 'ecc' with curve ${t7}. Generate a key of type 'curve25519' instead`);
    const { privateParams: r7, publicParams: i7 } = await Bi(this.algorithm, e7, t7);
    this.privateParams = r7, this.publicParams = i7, this.isEncrypted = false;
  }
  clearPrivateParams() {
    this.isMissingSecretKeyMaterial() || (Object.keys(this.privateParams).forEach(((e7) => {
      this.privateParams[e7].fill(0), delete this.privateParams[e7];
    })), this.privateParams = null, this.isEncrypted = true);
  }
};
async function da(e7, t7, r7, i7, n7, s7, a7, o7) {
  if ("argon2" === t7.type && !n7) throw Error("Using Argon2 S2K without AEAD is not allowed");
  if ("simple" === t7.type && 6 === e7) throw Error("Using Simple S2K with version 6 keys is not allowed");
  const { keySize: c6 } = Pr(i7), u7 = await t7.produceKey(r7, c6, o7);
  if (!n7 || 5 === e7 || a7) return u7;
  const h6 = N4.concatUint8Array([s7, new Uint8Array([e7, i7, n7])]);
  return Ir(M6.hash.sha256, u7, new Uint8Array(), h6, c6);
}
var fa = class _fa {
  static get tag() {
    return M6.packet.userID;
  }
  constructor() {
    this.userID = "", this.name = "", this.email = "", this.comment = "";
  }
  static fromObject(e7) {
    if (N4.isString(e7) || e7.name && !N4.isString(e7.name) || e7.email && !N4.isEmailAddress(e7.email) || e7.comment && !N4.isString(e7.comment)) throw Error("Invalid user ID format");
    const t7 = new _fa();
    Object.assign(t7, e7);
    const r7 = [];
    return t7.name && r7.push(t7.name), t7.comment && r7.push(`(${t7.comment})`), t7.email && r7.push(`<${t7.email}>`), t7.userID = r7.join(" "), t7;
  }
  read(e7, t7 = L3) {
    const r7 = N4.decodeUTF8(e7);
    if (r7.length > t7.maxUserIDLength) throw Error("User ID string is too long");
    const i7 = (e8) => /^[^\s@]+@[^\s@]+$/.test(e8), n7 = r7.indexOf("<"), s7 = r7.lastIndexOf(">");
    if (-1 !== n7 && -1 !== s7 && s7 > n7) {
      const e8 = r7.substring(n7 + 1, s7);
      if (i7(e8)) {
        this.email = e8;
        const t8 = r7.substring(0, n7).trim(), i8 = t8.indexOf("("), s8 = t8.lastIndexOf(")");
        -1 !== i8 && -1 !== s8 && s8 > i8 ? (this.comment = t8.substring(i8 + 1, s8).trim(), this.name = t8.substring(0, i8).trim()) : (this.name = t8, this.comment = "");
      }
    } else i7(r7.trim()) && (this.email = r7.trim(), this.name = "", this.comment = "");
    this.userID = r7;
  }
  write() {
    return N4.encodeUTF8(this.userID);
  }
  equals(e7) {
    return e7 && e7.userID === this.userID;
  }
};
var ma = class extends ga {
  static get tag() {
    return M6.packet.secretSubkey;
  }
  constructor(e7 = /* @__PURE__ */ new Date(), t7 = L3) {
    super(e7, t7);
  }
};
var va = class {
  constructor(e7) {
    this.packets = e7 || new Hs();
  }
  write() {
    return this.packets.write();
  }
  armor(e7 = L3) {
    const t7 = this.packets.some(((e8) => e8.constructor.tag === Ns.tag && 6 !== e8.version));
    return J4(M6.armor.signature, this.write(), void 0, void 0, void 0, t7, e7);
  }
  getSigningKeyIDs() {
    return this.packets.map(((e7) => e7.issuerKeyID));
  }
};
async function Ka(e7, t7) {
  const r7 = new ma(e7.date, t7);
  return r7.packets = null, r7.algorithm = M6.write(M6.publicKey, e7.algorithm), await r7.generate(e7.rsaBits, e7.curve), await r7.computeFingerprintAndKeyID(), r7;
}
async function Sa(e7, t7, r7, i7, n7 = /* @__PURE__ */ new Date(), s7) {
  let a7, o7;
  for (let c6 = e7.length - 1; c6 >= 0; c6--) try {
    (!a7 || e7[c6].created >= a7.created) && (await e7[c6].verify(t7, r7, i7, n7, void 0, s7), a7 = e7[c6]);
  } catch (e8) {
    o7 = e8;
  }
  if (!a7) throw N4.wrapError(`Could not find valid ${M6.read(M6.signature, r7)} signature in key ${t7.getKeyID().toHex()}`.replace("certGeneric ", "self-").replace(/([a-z])([A-Z])/g, ((e8, t8, r8) => t8 + " " + r8.toLowerCase())), o7);
  return a7;
}
function Pa(e7, t7, r7 = /* @__PURE__ */ new Date()) {
  const i7 = N4.normalizeDate(r7);
  if (null !== i7) {
    const r8 = Ba(e7, t7);
    return !(e7.created <= i7 && i7 < r8);
  }
  return false;
}
async function Ua(e7, t7, r7, i7) {
  const n7 = {};
  n7.key = t7, n7.bind = e7;
  const s7 = { signatureType: M6.signature.subkeyBinding };
  r7.sign ? (s7.keyFlags = [M6.keyFlags.signData], s7.embeddedSignature = await xa(n7, [], e7, { signatureType: M6.signature.keyBinding }, r7.date, void 0, void 0, void 0, i7)) : s7.keyFlags = [M6.keyFlags.encryptCommunication | M6.keyFlags.encryptStorage], r7.keyExpirationTime > 0 && (s7.keyExpirationTime = r7.keyExpirationTime, s7.keyNeverExpires = false);
  return await xa(n7, [], t7, s7, r7.date, void 0, void 0, void 0, i7);
}
async function Da(e7, t7, r7 = /* @__PURE__ */ new Date(), i7 = [], n7) {
  const s7 = M6.hash.sha256, a7 = n7.preferredHashAlgorithm, o7 = await Promise.all(e7.map((async (e8, t8) => (await e8.getPrimarySelfSignature(r7, i7[t8], n7)).preferredHashAlgorithms || []))), c6 = /* @__PURE__ */ new Map();
  for (const e8 of o7) for (const t8 of e8) try {
    const e9 = M6.write(M6.hash, t8);
    c6.set(e9, c6.has(e9) ? c6.get(e9) + 1 : 1);
  } catch {
  }
  const u7 = (t8) => 0 === e7.length || c6.get(t8) === e7.length || t8 === s7, h6 = () => {
    if (0 === c6.size) return s7;
    const e8 = Array.from(c6.keys()).filter(((e9) => u7(e9))).sort(((e9, t8) => Le(e9) - Le(t8)))[0];
    return Le(e8) >= Le(s7) ? e8 : s7;
  };
  if ((/* @__PURE__ */ new Set([M6.publicKey.ecdsa, M6.publicKey.eddsaLegacy, M6.publicKey.ed25519, M6.publicKey.ed448])).has(t7.algorithm)) {
    const e8 = (function(e9, t8) {
      switch (e9) {
        case M6.publicKey.ecdsa:
        case M6.publicKey.eddsaLegacy:
          return Qr(t8);
        case M6.publicKey.ed25519:
        case M6.publicKey.ed448:
          return dt3(e9);
        default:
          throw Error("Unknown elliptic signing algo");
      }
    })(t7.algorithm, t7.publicParams.oid), r8 = u7(a7), i8 = Le(a7) >= Le(e8);
    if (r8 && i8) return a7;
    {
      const t8 = h6();
      return Le(t8) >= Le(e8) ? t8 : e8;
    }
  }
  return u7(a7) ? a7 : h6();
}
async function xa(e7, t7, r7, i7, n7, s7, a7 = [], o7 = false, c6) {
  if (r7.isDummy()) throw Error("Cannot sign with a gnu-dummy key.");
  if (!r7.isDecrypted()) throw Error("Signing key is not decrypted.");
  const u7 = new Ns();
  return Object.assign(u7, i7), u7.publicKeyAlgorithm = r7.algorithm, u7.hashAlgorithm = await Da(t7, r7, n7, s7, c6), u7.rawNotations = [...a7], await u7.sign(r7, e7, n7, o7, c6), u7;
}
async function Ia(e7, t7, r7, i7 = /* @__PURE__ */ new Date(), n7) {
  (e7 = e7[r7]) && (t7[r7].length ? await Promise.all(e7.map((async function(e8) {
    e8.isExpired(i7) || n7 && !await n7(e8) || t7[r7].some((function(t8) {
      return N4.equalsUint8Array(t8.writeParams(), e8.writeParams());
    })) || t7[r7].push(e8);
  }))) : t7[r7] = e7);
}
async function Ca(e7, t7, r7, i7, n7, s7, a7 = /* @__PURE__ */ new Date(), o7) {
  s7 = s7 || e7;
  const c6 = [];
  return await Promise.all(i7.map((async function(e8) {
    try {
      if (!n7 || e8.issuerKeyID.equals(n7.issuerKeyID)) {
        const i8 = ![M6.reasonForRevocation.keyRetired, M6.reasonForRevocation.keySuperseded, M6.reasonForRevocation.userIDInvalid].includes(e8.reasonForRevocationFlag);
        await e8.verify(s7, t7, r7, i8 ? null : a7, false, o7), c6.push(e8.issuerKeyID);
      }
    } catch {
    }
  }))), n7 ? (n7.revoked = !!c6.some(((e8) => e8.equals(n7.issuerKeyID))) || (n7.revoked || false), n7.revoked) : c6.length > 0;
}
function Ba(e7, t7) {
  let r7;
  return false === t7.keyNeverExpires && (r7 = e7.created.getTime() + 1e3 * t7.keyExpirationTime), r7 ? new Date(r7) : 1 / 0;
}
function Ta(e7, t7 = {}) {
  switch (e7.type = e7.type || t7.type, e7.curve = e7.curve || t7.curve, e7.rsaBits = e7.rsaBits || t7.rsaBits, e7.keyExpirationTime = void 0 !== e7.keyExpirationTime ? e7.keyExpirationTime : t7.keyExpirationTime, e7.passphrase = N4.isString(e7.passphrase) ? e7.passphrase : t7.passphrase, e7.date = e7.date || t7.date, e7.sign = e7.sign || false, e7.type) {
    case "ecc":
      try {
        e7.curve = M6.write(M6.curve, e7.curve);
      } catch {
        throw Error("Unknown curve");
      }
      e7.curve !== M6.curve.ed25519Legacy && e7.curve !== M6.curve.curve25519Legacy && "ed25519" !== e7.curve && "curve25519" !== e7.curve || (e7.curve = e7.sign ? M6.curve.ed25519Legacy : M6.curve.curve25519Legacy), e7.sign ? e7.algorithm = e7.curve === M6.curve.ed25519Legacy ? M6.publicKey.eddsaLegacy : M6.publicKey.ecdsa : e7.algorithm = M6.publicKey.ecdh;
      break;
    case "curve25519":
      e7.algorithm = e7.sign ? M6.publicKey.ed25519 : M6.publicKey.x25519;
      break;
    case "curve448":
      e7.algorithm = e7.sign ? M6.publicKey.ed448 : M6.publicKey.x448;
      break;
    case "rsa":
      e7.algorithm = M6.publicKey.rsaEncryptSign;
      break;
    default:
      throw Error("Unsupported key type " + e7.type);
  }
  return e7;
}
function Ma(e7, t7, r7) {
  switch (e7.algorithm) {
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaSign:
    case M6.publicKey.dsa:
    case M6.publicKey.ecdsa:
    case M6.publicKey.eddsaLegacy:
    case M6.publicKey.ed25519:
    case M6.publicKey.ed448:
      if (!t7.keyFlags && !r7.allowMissingKeyFlags) throw Error("None of the key flags is set: consider passing `config.allowMissingKeyFlags`");
      return !t7.keyFlags || !!(t7.keyFlags[0] & M6.keyFlags.signData);
    default:
      return false;
  }
}
function La(e7, t7, r7) {
  switch (e7.algorithm) {
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.elgamal:
    case M6.publicKey.ecdh:
    case M6.publicKey.x25519:
    case M6.publicKey.x448:
      if (!t7.keyFlags && !r7.allowMissingKeyFlags) throw Error("None of the key flags is set: consider passing `config.allowMissingKeyFlags`");
      return !t7.keyFlags || !!(t7.keyFlags[0] & M6.keyFlags.encryptCommunication) || !!(t7.keyFlags[0] & M6.keyFlags.encryptStorage);
    default:
      return false;
  }
}
function Fa(e7, t7, r7) {
  if (!t7.keyFlags && !r7.allowMissingKeyFlags) throw Error("None of the key flags is set: consider passing `config.allowMissingKeyFlags`");
  switch (e7.algorithm) {
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaEncrypt:
    case M6.publicKey.elgamal:
    case M6.publicKey.ecdh:
    case M6.publicKey.x25519:
    case M6.publicKey.x448:
      return !(!(!t7.keyFlags || !!(t7.keyFlags[0] & M6.keyFlags.signData)) || !r7.allowInsecureDecryptionWithSigningKeys) || (!t7.keyFlags || !!(t7.keyFlags[0] & M6.keyFlags.encryptCommunication) || !!(t7.keyFlags[0] & M6.keyFlags.encryptStorage));
    default:
      return false;
  }
}
function Na(e7, t7) {
  const r7 = M6.write(M6.publicKey, e7.algorithm), i7 = e7.getAlgorithmInfo();
  if (t7.rejectPublicKeyAlgorithms.has(r7)) throw Error(i7.algorithm + " keys are considered too weak.");
  switch (r7) {
    case M6.publicKey.rsaEncryptSign:
    case M6.publicKey.rsaSign:
    case M6.publicKey.rsaEncrypt:
      if (i7.bits < t7.minRSABits) throw Error(`RSA keys shorter than ${t7.minRSABits} bits are considered too weak.`);
      break;
    case M6.publicKey.ecdsa:
    case M6.publicKey.eddsaLegacy:
    case M6.publicKey.ecdh:
      if (t7.rejectCurves.has(i7.curve)) throw Error(`Support for ${i7.algorithm} keys using curve ${i7.curve} is disabled.`);
  }
}
var za = class _za {
  constructor(e7, t7) {
    this.userID = e7.constructor.tag === M6.packet.userID ? e7 : null, this.userAttribute = e7.constructor.tag === M6.packet.userAttribute ? e7 : null, this.selfCertifications = [], this.otherCertifications = [], this.revocationSignatures = [], this.mainKey = t7;
  }
  toPacketList() {
    const e7 = new Hs();
    return e7.push(this.userID || this.userAttribute), e7.push(...this.revocationSignatures), e7.push(...this.selfCertifications), e7.push(...this.otherCertifications), e7;
  }
  clone() {
    const e7 = new _za(this.userID || this.userAttribute, this.mainKey);
    return e7.selfCertifications = [...this.selfCertifications], e7.otherCertifications = [...this.otherCertifications], e7.revocationSignatures = [...this.revocationSignatures], e7;
  }
  async certify(e7, t7, r7) {
    const i7 = this.mainKey.keyPacket, n7 = { userID: this.userID, userAttribute: this.userAttribute, key: i7 }, s7 = new _za(n7.userID || n7.userAttribute, this.mainKey);
    return s7.otherCertifications = await Promise.all(e7.map((async function(e8) {
      if (!e8.isPrivate()) throw Error("Need private key for signing");
      if (e8.hasSameFingerprintAs(i7)) throw Error("The user's own key can only be used for self-certifications");
      const s8 = await e8.getSigningKey(void 0, t7, void 0, r7);
      return xa(n7, [e8], s8.keyPacket, { signatureType: M6.signature.certGeneric, keyFlags: [M6.keyFlags.certifyKeys | M6.keyFlags.signData] }, t7, void 0, void 0, void 0, r7);
    }))), await s7.update(this, t7, r7), s7;
  }
  async isRevoked(e7, t7, r7 = /* @__PURE__ */ new Date(), i7 = L3) {
    const n7 = this.mainKey.keyPacket;
    return Ca(n7, M6.signature.certRevocation, { key: n7, userID: this.userID, userAttribute: this.userAttribute }, this.revocationSignatures, e7, t7, r7, i7);
  }
  async verifyCertificate(e7, t7, r7 = /* @__PURE__ */ new Date(), i7) {
    const n7 = this, s7 = this.mainKey.keyPacket, a7 = { userID: this.userID, userAttribute: this.userAttribute, key: s7 }, { issuerKeyID: o7 } = e7, c6 = t7.filter(((e8) => e8.getKeys(o7).length > 0));
    return 0 === c6.length ? null : (await Promise.all(c6.map((async (t8) => {
      const s8 = await t8.getSigningKey(o7, e7.created, void 0, i7);
      if (e7.revoked || await n7.isRevoked(e7, s8.keyPacket, r7, i7)) throw Error("User certificate is revoked");
      try {
        await e7.verify(s8.keyPacket, M6.signature.certGeneric, a7, r7, void 0, i7);
      } catch (e8) {
        throw N4.wrapError("User certificate is invalid", e8);
      }
    }))), true);
  }
  async verifyAllCertifications(e7, t7 = /* @__PURE__ */ new Date(), r7) {
    const i7 = this, n7 = this.selfCertifications.concat(this.otherCertifications);
    return Promise.all(n7.map((async (n8) => ({ keyID: n8.issuerKeyID, valid: await i7.verifyCertificate(n8, e7, t7, r7).catch((() => false)) }))));
  }
  async verify(e7 = /* @__PURE__ */ new Date(), t7) {
    if (!this.selfCertifications.length) throw Error("No self-certifications found");
    const r7 = this, i7 = this.mainKey.keyPacket, n7 = { userID: this.userID, userAttribute: this.userAttribute, key: i7 };
    let s7;
    for (let a7 = this.selfCertifications.length - 1; a7 >= 0; a7--) try {
      const s8 = this.selfCertifications[a7];
      if (s8.revoked || await r7.isRevoked(s8, void 0, e7, t7)) throw Error("Self-certification is revoked");
      try {
        await s8.verify(i7, M6.signature.certGeneric, n7, e7, void 0, t7);
      } catch (e8) {
        throw N4.wrapError("Self-certification is invalid", e8);
      }
      return true;
    } catch (e8) {
      s7 = e8;
    }
    throw s7;
  }
  async update(e7, t7, r7) {
    const i7 = this.mainKey.keyPacket, n7 = { userID: this.userID, userAttribute: this.userAttribute, key: i7 };
    await Ia(e7, this, "selfCertifications", t7, (async function(e8) {
      try {
        return await e8.verify(i7, M6.signature.certGeneric, n7, t7, false, r7), true;
      } catch {
        return false;
      }
    })), await Ia(e7, this, "otherCertifications", t7), await Ia(e7, this, "revocationSignatures", t7, (function(e8) {
      return Ca(i7, M6.signature.certRevocation, n7, [e8], void 0, void 0, t7, r7);
    }));
  }
  async revoke(e7, { flag: t7 = M6.reasonForRevocation.noReason, string: r7 = "" } = {}, i7 = /* @__PURE__ */ new Date(), n7 = L3) {
    const s7 = { userID: this.userID, userAttribute: this.userAttribute, key: e7 }, a7 = new _za(s7.userID || s7.userAttribute, this.mainKey);
    return a7.revocationSignatures.push(await xa(s7, [], e7, { signatureType: M6.signature.certRevocation, reasonForRevocationFlag: M6.write(M6.reasonForRevocation, t7), reasonForRevocationString: r7 }, i7, void 0, void 0, false, n7)), await a7.update(this), a7;
  }
};
var Ra = class _Ra {
  constructor(e7, t7) {
    this.keyPacket = e7, this.bindingSignatures = [], this.revocationSignatures = [], this.mainKey = t7;
  }
  toPacketList() {
    const e7 = new Hs();
    return e7.push(this.keyPacket), e7.push(...this.revocationSignatures), e7.push(...this.bindingSignatures), e7;
  }
  clone() {
    const e7 = new _Ra(this.keyPacket, this.mainKey);
    return e7.bindingSignatures = [...this.bindingSignatures], e7.revocationSignatures = [...this.revocationSignatures], e7;
  }
  async isRevoked(e7, t7, r7 = /* @__PURE__ */ new Date(), i7 = L3) {
    const n7 = this.mainKey.keyPacket;
    return Ca(n7, M6.signature.subkeyRevocation, { key: n7, bind: this.keyPacket }, this.revocationSignatures, e7, t7, r7, i7);
  }
  async verify(e7 = /* @__PURE__ */ new Date(), t7 = L3) {
    const r7 = this.mainKey.keyPacket, i7 = { key: r7, bind: this.keyPacket }, n7 = await Sa(this.bindingSignatures, r7, M6.signature.subkeyBinding, i7, e7, t7);
    if (n7.revoked || await this.isRevoked(n7, null, e7, t7)) throw Error("Subkey is revoked");
    if (Pa(this.keyPacket, n7, e7)) throw Error("Subkey is expired");
    return n7;
  }
  async getExpirationTime(e7 = /* @__PURE__ */ new Date(), t7 = L3) {
    const r7 = this.mainKey.keyPacket, i7 = { key: r7, bind: this.keyPacket };
    let n7;
    try {
      n7 = await Sa(this.bindingSignatures, r7, M6.signature.subkeyBinding, i7, e7, t7);
    } catch {
      return null;
    }
    const s7 = Ba(this.keyPacket, n7), a7 = n7.getExpirationTime();
    return s7 < a7 ? s7 : a7;
  }
  async update(e7, t7 = /* @__PURE__ */ new Date(), r7 = L3) {
    const i7 = this.mainKey.keyPacket;
    if (!this.hasSameFingerprintAs(e7)) throw Error("Subkey update method: fingerprints of subkeys not equal");
    this.keyPacket.constructor.tag === M6.packet.publicSubkey && e7.keyPacket.constructor.tag === M6.packet.secretSubkey && (this.keyPacket = e7.keyPacket);
    const n7 = this, s7 = { key: i7, bind: n7.keyPacket };
    await Ia(e7, this, "bindingSignatures", t7, (async function(e8) {
      for (let t8 = 0; t8 < n7.bindingSignatures.length; t8++) if (n7.bindingSignatures[t8].issuerKeyID.equals(e8.issuerKeyID)) return e8.created > n7.bindingSignatures[t8].created && (n7.bindingSignatures[t8] = e8), false;
      try {
        return await e8.verify(i7, M6.signature.subkeyBinding, s7, t7, void 0, r7), true;
      } catch {
        return false;
      }
    })), await Ia(e7, this, "revocationSignatures", t7, (function(e8) {
      return Ca(i7, M6.signature.subkeyRevocation, s7, [e8], void 0, void 0, t7, r7);
    }));
  }
  async revoke(e7, { flag: t7 = M6.reasonForRevocation.noReason, string: r7 = "" } = {}, i7 = /* @__PURE__ */ new Date(), n7 = L3) {
    const s7 = { key: e7, bind: this.keyPacket }, a7 = new _Ra(this.keyPacket, this.mainKey);
    return a7.revocationSignatures.push(await xa(s7, [], e7, { signatureType: M6.signature.subkeyRevocation, reasonForRevocationFlag: M6.write(M6.reasonForRevocation, t7), reasonForRevocationString: r7 }, i7, void 0, void 0, false, n7)), await a7.update(this), a7;
  }
  hasSameFingerprintAs(e7) {
    return this.keyPacket.hasSameFingerprintAs(e7.keyPacket || e7);
  }
};
["getKeyID", "getFingerprint", "getAlgorithmInfo", "getCreationTime", "isDecrypted"].forEach(((e7) => {
  Ra.prototype[e7] = function() {
    return this.keyPacket[e7]();
  };
}));
var Oa = /* @__PURE__ */ N4.constructAllowedPackets([Ns]);
var ja = /* @__PURE__ */ new Set([M6.packet.publicKey, M6.packet.secretKey]);
var Ha = /* @__PURE__ */ new Set([M6.packet.publicKey, M6.packet.secretKey, M6.packet.publicSubkey, M6.packet.secretSubkey]);
var Ga = class {
  packetListToStructure(e7, t7 = /* @__PURE__ */ new Set()) {
    let r7, i7, n7, s7;
    for (const a7 of e7) {
      if (a7 instanceof ut3) {
        Ha.has(a7.tag) && !s7 && (s7 = ja.has(a7.tag) ? ja : Ha);
        continue;
      }
      const e8 = a7.constructor.tag;
      if (s7) {
        if (!s7.has(e8)) continue;
        s7 = null;
      }
      if (t7.has(e8)) throw Error("Unexpected packet type: " + e8);
      switch (e8) {
        case M6.packet.publicKey:
        case M6.packet.secretKey:
          if (this.keyPacket) throw Error("Key block contains multiple keys");
          if (this.keyPacket = a7, i7 = this.getKeyID(), !i7) throw Error("Missing Key ID");
          break;
        case M6.packet.userID:
        case M6.packet.userAttribute:
          r7 = new za(a7, this), this.users.push(r7);
          break;
        case M6.packet.publicSubkey:
        case M6.packet.secretSubkey:
          r7 = null, n7 = new Ra(a7, this), this.subkeys.push(n7);
          break;
        case M6.packet.signature:
          switch (a7.signatureType) {
            case M6.signature.certGeneric:
            case M6.signature.certPersona:
            case M6.signature.certCasual:
            case M6.signature.certPositive:
              if (!r7) {
                N4.printDebug("Dropping certification signatures without preceding user packet");
                continue;
              }
              a7.issuerKeyID.equals(i7) ? r7.selfCertifications.push(a7) : r7.otherCertifications.push(a7);
              break;
            case M6.signature.certRevocation:
              r7 ? r7.revocationSignatures.push(a7) : this.directSignatures.push(a7);
              break;
            case M6.signature.key:
              this.directSignatures.push(a7);
              break;
            case M6.signature.subkeyBinding:
              if (!n7) {
                N4.printDebug("Dropping subkey binding signature without preceding subkey packet");
                continue;
              }
              n7.bindingSignatures.push(a7);
              break;
            case M6.signature.keyRevocation:
              this.revocationSignatures.push(a7);
              break;
            case M6.signature.subkeyRevocation:
              if (!n7) {
                N4.printDebug("Dropping subkey revocation signature without preceding subkey packet");
                continue;
              }
              n7.revocationSignatures.push(a7);
          }
      }
    }
  }
  toPacketList() {
    const e7 = new Hs();
    return e7.push(this.keyPacket), e7.push(...this.revocationSignatures), e7.push(...this.directSignatures), this.users.map(((t7) => e7.push(...t7.toPacketList()))), this.subkeys.map(((t7) => e7.push(...t7.toPacketList()))), e7;
  }
  clone(e7 = false) {
    const t7 = new this.constructor(this.toPacketList());
    return e7 && t7.getKeys().forEach(((e8) => {
      if (e8.keyPacket = Object.create(Object.getPrototypeOf(e8.keyPacket), Object.getOwnPropertyDescriptors(e8.keyPacket)), !e8.keyPacket.isDecrypted()) return;
      const t8 = {};
      Object.keys(e8.keyPacket.privateParams).forEach(((r7) => {
        t8[r7] = new Uint8Array(e8.keyPacket.privateParams[r7]);
      })), e8.keyPacket.privateParams = t8;
    })), t7;
  }
  getSubkeys(e7 = null) {
    return this.subkeys.filter(((t7) => !e7 || t7.getKeyID().equals(e7, true)));
  }
  getKeys(e7 = null) {
    const t7 = [];
    return e7 && !this.getKeyID().equals(e7, true) || t7.push(this), t7.concat(this.getSubkeys(e7));
  }
  getKeyIDs() {
    return this.getKeys().map(((e7) => e7.getKeyID()));
  }
  getUserIDs() {
    return this.users.map(((e7) => e7.userID ? e7.userID.userID : null)).filter(((e7) => null !== e7));
  }
  write() {
    return this.toPacketList().write();
  }
  async getSigningKey(e7 = null, t7 = /* @__PURE__ */ new Date(), r7 = {}, i7 = L3) {
    await this.verifyPrimaryKey(t7, r7, i7);
    const n7 = this.keyPacket;
    try {
      Na(n7, i7);
    } catch (e8) {
      throw N4.wrapError("Could not verify primary key", e8);
    }
    const s7 = this.subkeys.slice().sort(((e8, t8) => t8.keyPacket.created - e8.keyPacket.created || t8.keyPacket.algorithm - e8.keyPacket.algorithm));
    let a7;
    for (const r8 of s7) if (!e7 || r8.getKeyID().equals(e7)) try {
      await r8.verify(t7, i7);
      const e8 = { key: n7, bind: r8.keyPacket }, s8 = await Sa(r8.bindingSignatures, n7, M6.signature.subkeyBinding, e8, t7, i7);
      if (!Ma(r8.keyPacket, s8, i7)) continue;
      if (!s8.embeddedSignature) throw Error("Missing embedded signature");
      return await Sa([s8.embeddedSignature], r8.keyPacket, M6.signature.keyBinding, e8, t7, i7), Na(r8.keyPacket, i7), r8;
    } catch (e8) {
      a7 = e8;
    }
    try {
      const s8 = await this.getPrimarySelfSignature(t7, r7, i7);
      if ((!e7 || n7.getKeyID().equals(e7)) && Ma(n7, s8, i7)) return Na(n7, i7), this;
    } catch (e8) {
      a7 = e8;
    }
    throw N4.wrapError("Could not find valid signing key packet in key " + this.getKeyID().toHex(), a7);
  }
  async getEncryptionKey(e7, t7 = /* @__PURE__ */ new Date(), r7 = {}, i7 = L3) {
    await this.verifyPrimaryKey(t7, r7, i7);
    const n7 = this.keyPacket;
    try {
      Na(n7, i7);
    } catch (e8) {
      throw N4.wrapError("Could not verify primary key", e8);
    }
    const s7 = this.subkeys.slice().sort(((e8, t8) => t8.keyPacket.created - e8.keyPacket.created || t8.keyPacket.algorithm - e8.keyPacket.algorithm));
    let a7;
    for (const r8 of s7) if (!e7 || r8.getKeyID().equals(e7)) try {
      await r8.verify(t7, i7);
      const e8 = { key: n7, bind: r8.keyPacket }, s8 = await Sa(r8.bindingSignatures, n7, M6.signature.subkeyBinding, e8, t7, i7);
      if (La(r8.keyPacket, s8, i7)) return Na(r8.keyPacket, i7), r8;
    } catch (e8) {
      a7 = e8;
    }
    try {
      const s8 = await this.getPrimarySelfSignature(t7, r7, i7);
      if ((!e7 || n7.getKeyID().equals(e7)) && La(n7, s8, i7)) return Na(n7, i7), this;
    } catch (e8) {
      a7 = e8;
    }
    throw N4.wrapError("Could not find valid encryption key packet in key " + this.getKeyID().toHex(), a7);
  }
  async isRevoked(e7, t7, r7 = /* @__PURE__ */ new Date(), i7 = L3) {
    return Ca(this.keyPacket, M6.signature.keyRevocation, { key: this.keyPacket }, this.revocationSignatures, e7, t7, r7, i7);
  }
  async verifyPrimaryKey(e7 = /* @__PURE__ */ new Date(), t7 = {}, r7 = L3) {
    const i7 = this.keyPacket;
    if (await this.isRevoked(null, null, e7, r7)) throw Error("Primary key is revoked");
    if (Pa(i7, await this.getPrimarySelfSignature(e7, t7, r7), e7)) throw Error("Primary key is expired");
    if (6 !== i7.version) {
      const t8 = await Sa(this.directSignatures, i7, M6.signature.key, { key: i7 }, e7, r7).catch((() => {
      }));
      if (t8 && Pa(i7, t8, e7)) throw Error("Primary key is expired");
    }
  }
  async getExpirationTime(e7, t7 = L3) {
    let r7;
    try {
      const i7 = await this.getPrimarySelfSignature(null, e7, t7), n7 = Ba(this.keyPacket, i7), s7 = i7.getExpirationTime(), a7 = 6 !== this.keyPacket.version && await Sa(this.directSignatures, this.keyPacket, M6.signature.key, { key: this.keyPacket }, null, t7).catch((() => {
      }));
      if (a7) {
        const e8 = Ba(this.keyPacket, a7);
        r7 = Math.min(n7, s7, e8);
      } else r7 = n7 < s7 ? n7 : s7;
    } catch {
      r7 = null;
    }
    return N4.normalizeDate(r7);
  }
  async getPrimarySelfSignature(e7 = /* @__PURE__ */ new Date(), t7 = {}, r7 = L3) {
    const i7 = this.keyPacket;
    if (6 === i7.version) return Sa(this.directSignatures, i7, M6.signature.key, { key: i7 }, e7, r7);
    const { selfCertification: n7 } = await this.getPrimaryUser(e7, t7, r7);
    return n7;
  }
  async getPrimaryUser(e7 = /* @__PURE__ */ new Date(), t7 = {}, r7 = L3) {
    const i7 = this.keyPacket, n7 = [];
    let s7;
    for (let a8 = 0; a8 < this.users.length; a8++) try {
      const s8 = this.users[a8];
      if (!s8.userID) continue;
      if (void 0 !== t7.name && s8.userID.name !== t7.name || void 0 !== t7.email && s8.userID.email !== t7.email || void 0 !== t7.comment && s8.userID.comment !== t7.comment) throw Error("Could not find user that matches that user ID");
      const o8 = { userID: s8.userID, key: i7 }, c7 = await Sa(s8.selfCertifications, i7, M6.signature.certGeneric, o8, e7, r7);
      n7.push({ index: a8, user: s8, selfCertification: c7 });
    } catch (e8) {
      s7 = e8;
    }
    if (!n7.length) throw s7 || Error("Could not find primary user");
    await Promise.all(n7.map((async (t8) => {
      t8.selfCertification.revoked || await t8.user.isRevoked(t8.selfCertification, null, e7, r7);
    })));
    const a7 = n7.sort((function(e8, t8) {
      const r8 = e8.selfCertification, i8 = t8.selfCertification;
      return i8.revoked - r8.revoked || r8.isPrimaryUserID - i8.isPrimaryUserID || r8.created - i8.created;
    })).pop(), { user: o7, selfCertification: c6 } = a7;
    if (c6.revoked || await o7.isRevoked(c6, null, e7, r7)) throw Error("Primary user is revoked");
    return a7;
  }
  async update(e7, t7 = /* @__PURE__ */ new Date(), r7 = L3) {
    if (!this.hasSameFingerprintAs(e7)) throw Error("Primary key fingerprints must be equal to update the key");
    if (!this.isPrivate() && e7.isPrivate()) {
      if (!(this.subkeys.length === e7.subkeys.length && this.subkeys.every(((t8) => e7.subkeys.some(((e8) => t8.hasSameFingerprintAs(e8))))))) throw Error("Cannot update public key with private key if subkeys mismatch");
      return e7.update(this, r7);
    }
    const i7 = this.clone();
    return await Ia(e7, i7, "revocationSignatures", t7, ((n7) => Ca(i7.keyPacket, M6.signature.keyRevocation, i7, [n7], null, e7.keyPacket, t7, r7))), await Ia(e7, i7, "directSignatures", t7), await Promise.all(e7.users.map((async (e8) => {
      const n7 = i7.users.filter(((t8) => e8.userID && e8.userID.equals(t8.userID) || e8.userAttribute && e8.userAttribute.equals(t8.userAttribute)));
      if (n7.length > 0) await Promise.all(n7.map(((i8) => i8.update(e8, t7, r7))));
      else {
        const t8 = e8.clone();
        t8.mainKey = i7, i7.users.push(t8);
      }
    }))), await Promise.all(e7.subkeys.map((async (e8) => {
      const n7 = i7.subkeys.filter(((t8) => t8.hasSameFingerprintAs(e8)));
      if (n7.length > 0) await Promise.all(n7.map(((i8) => i8.update(e8, t7, r7))));
      else {
        const t8 = e8.clone();
        t8.mainKey = i7, i7.subkeys.push(t8);
      }
    }))), i7;
  }
  async getRevocationCertificate(e7 = /* @__PURE__ */ new Date(), t7 = L3) {
    const r7 = { key: this.keyPacket }, i7 = await Sa(this.revocationSignatures, this.keyPacket, M6.signature.keyRevocation, r7, e7, t7), n7 = new Hs();
    n7.push(i7);
    const s7 = 6 !== this.keyPacket.version;
    return J4(M6.armor.publicKey, n7.write(), null, null, "This is a revocation certificate", s7, t7);
  }
  async applyRevocationCertificate(e7, t7 = /* @__PURE__ */ new Date(), r7 = L3) {
    const i7 = await Z3(e7), n7 = (await Hs.fromBinary(i7.data, Oa, r7)).findPacket(M6.packet.signature);
    if (!n7 || n7.signatureType !== M6.signature.keyRevocation) throw Error("Could not find revocation signature packet");
    if (!n7.issuerKeyID.equals(this.getKeyID())) throw Error("Revocation signature does not match key");
    try {
      await n7.verify(this.keyPacket, M6.signature.keyRevocation, { key: this.keyPacket }, t7, void 0, r7);
    } catch (e8) {
      throw N4.wrapError("Could not verify revocation signature", e8);
    }
    const s7 = this.clone();
    return s7.revocationSignatures.push(n7), s7;
  }
  async signPrimaryUser(e7, t7, r7, i7 = L3) {
    const { index: n7, user: s7 } = await this.getPrimaryUser(t7, r7, i7), a7 = await s7.certify(e7, t7, i7), o7 = this.clone();
    return o7.users[n7] = a7, o7;
  }
  async signAllUsers(e7, t7 = /* @__PURE__ */ new Date(), r7 = L3) {
    const i7 = this.clone();
    return i7.users = await Promise.all(this.users.map((function(i8) {
      return i8.certify(e7, t7, r7);
    }))), i7;
  }
  async verifyPrimaryUser(e7, t7 = /* @__PURE__ */ new Date(), r7, i7 = L3) {
    const n7 = this.keyPacket, { user: s7 } = await this.getPrimaryUser(t7, r7, i7);
    return e7 ? await s7.verifyAllCertifications(e7, t7, i7) : [{ keyID: n7.getKeyID(), valid: await s7.verify(t7, i7).catch((() => false)) }];
  }
  async verifyAllUsers(e7, t7 = /* @__PURE__ */ new Date(), r7 = L3) {
    const i7 = this.keyPacket, n7 = [];
    return await Promise.all(this.users.map((async (s7) => {
      const a7 = e7 ? await s7.verifyAllCertifications(e7, t7, r7) : [{ keyID: i7.getKeyID(), valid: await s7.verify(t7, r7).catch((() => false)) }];
      n7.push(...a7.map(((e8) => ({ userID: s7.userID ? s7.userID.userID : null, userAttribute: s7.userAttribute, keyID: e8.keyID, valid: e8.valid }))));
    }))), n7;
  }
};
["getKeyID", "getFingerprint", "getAlgorithmInfo", "getCreationTime", "hasSameFingerprintAs"].forEach(((e7) => {
  Ga.prototype[e7] = Ra.prototype[e7];
}));
var qa = class extends Ga {
  constructor(e7) {
    if (super(), this.keyPacket = null, this.revocationSignatures = [], this.directSignatures = [], this.users = [], this.subkeys = [], e7 && (this.packetListToStructure(e7, /* @__PURE__ */ new Set([M6.packet.secretKey, M6.packet.secretSubkey])), !this.keyPacket)) throw Error("Invalid key: missing public-key packet");
  }
  isPrivate() {
    return false;
  }
  toPublic() {
    return this;
  }
  armor(e7 = L3) {
    const t7 = 6 !== this.keyPacket.version;
    return J4(M6.armor.publicKey, this.toPacketList().write(), void 0, void 0, void 0, t7, e7);
  }
};
var _a = class __a extends qa {
  constructor(e7) {
    if (super(), this.packetListToStructure(e7, /* @__PURE__ */ new Set([M6.packet.publicKey, M6.packet.publicSubkey])), !this.keyPacket) throw Error("Invalid key: missing private-key packet");
  }
  isPrivate() {
    return true;
  }
  toPublic() {
    const e7 = new Hs(), t7 = this.toPacketList();
    for (const r7 of t7) switch (r7.constructor.tag) {
      case M6.packet.secretKey: {
        const t8 = ca.fromSecretKeyPacket(r7);
        e7.push(t8);
        break;
      }
      case M6.packet.secretSubkey: {
        const t8 = la.fromSecretSubkeyPacket(r7);
        e7.push(t8);
        break;
      }
      default:
        e7.push(r7);
    }
    return new qa(e7);
  }
  armor(e7 = L3) {
    const t7 = 6 !== this.keyPacket.version;
    return J4(M6.armor.privateKey, this.toPacketList().write(), void 0, void 0, void 0, t7, e7);
  }
  async getDecryptionKeys(e7, t7 = /* @__PURE__ */ new Date(), r7 = {}, i7 = L3) {
    const n7 = this.keyPacket, s7 = [];
    let a7 = null;
    for (let r8 = 0; r8 < this.subkeys.length; r8++) if (!e7 || this.subkeys[r8].getKeyID().equals(e7, true)) {
      if (this.subkeys[r8].keyPacket.isDummy()) {
        a7 = a7 || Error("Gnu-dummy key packets cannot be used for decryption");
        continue;
      }
      try {
        const e8 = { key: n7, bind: this.subkeys[r8].keyPacket }, a8 = await Sa(this.subkeys[r8].bindingSignatures, n7, M6.signature.subkeyBinding, e8, t7, i7);
        Fa(this.subkeys[r8].keyPacket, a8, i7) && s7.push(this.subkeys[r8]);
      } catch (e8) {
        a7 = e8;
      }
    }
    const o7 = await this.getPrimarySelfSignature(t7, r7, i7);
    if (e7 && !n7.getKeyID().equals(e7, true) || !Fa(n7, o7, i7) || (n7.isDummy() ? a7 = a7 || Error("Gnu-dummy key packets cannot be used for decryption") : s7.push(this)), 0 === s7.length) throw a7 || Error("No decryption key packets found");
    return s7;
  }
  isDecrypted() {
    return this.getKeys().some((({ keyPacket: e7 }) => e7.isDecrypted()));
  }
  async validate(e7 = L3) {
    if (!this.isPrivate()) throw Error("Cannot validate a public key");
    let t7;
    if (this.keyPacket.isDummy()) {
      const r7 = await this.getSigningKey(null, null, void 0, { ...e7, rejectPublicKeyAlgorithms: /* @__PURE__ */ new Set(), minRSABits: 0 });
      r7 && !r7.keyPacket.isDummy() && (t7 = r7.keyPacket);
    } else t7 = this.keyPacket;
    if (t7) return t7.validate();
    {
      const e8 = this.getKeys();
      if (e8.map(((e9) => e9.keyPacket.isDummy())).every(Boolean)) throw Error("Cannot validate an all-gnu-dummy key");
      return Promise.all(e8.map(((e9) => e9.keyPacket.validate())));
    }
  }
  clearPrivateParams() {
    this.getKeys().forEach((({ keyPacket: e7 }) => {
      e7.isDecrypted() && e7.clearPrivateParams();
    }));
  }
  async revoke({ flag: e7 = M6.reasonForRevocation.noReason, string: t7 = "" } = {}, r7 = /* @__PURE__ */ new Date(), i7 = L3) {
    if (!this.isPrivate()) throw Error("Need private key for revoking");
    const n7 = { key: this.keyPacket }, s7 = this.clone();
    return s7.revocationSignatures.push(await xa(n7, [], this.keyPacket, { signatureType: M6.signature.keyRevocation, reasonForRevocationFlag: M6.write(M6.reasonForRevocation, e7), reasonForRevocationString: t7 }, r7, void 0, void 0, void 0, i7)), s7;
  }
  async addSubkey(e7 = {}) {
    const t7 = { ...L3, ...e7.config };
    if (e7.passphrase) throw Error("Subkey could not be encrypted here, please encrypt whole key");
    if (e7.rsaBits < t7.minRSABits) throw Error(`rsaBits should be at least ${t7.minRSABits}, got: ${e7.rsaBits}`);
    const r7 = this.keyPacket;
    if (r7.isDummy()) throw Error("Cannot add subkey to gnu-dummy primary key");
    if (!r7.isDecrypted()) throw Error("Key is not decrypted");
    const i7 = r7.getAlgorithmInfo();
    i7.type = (function(e8) {
      switch (M6.write(M6.publicKey, e8)) {
        case M6.publicKey.rsaEncrypt:
        case M6.publicKey.rsaEncryptSign:
        case M6.publicKey.rsaSign:
        case M6.publicKey.dsa:
          return "rsa";
        case M6.publicKey.ecdsa:
        case M6.publicKey.eddsaLegacy:
          return "ecc";
        case M6.publicKey.ed25519:
          return "curve25519";
        case M6.publicKey.ed448:
          return "curve448";
        default:
          throw Error("Unsupported algorithm");
      }
    })(i7.algorithm), i7.rsaBits = i7.bits || 4096, i7.curve = i7.curve || "curve25519Legacy", e7 = Ta(e7, i7);
    const n7 = await Ka(e7, { ...t7, v6Keys: 6 === this.keyPacket.version });
    Na(n7, t7);
    const s7 = await Ua(n7, r7, e7, t7), a7 = this.toPacketList();
    return a7.push(n7, s7), new __a(a7);
  }
};
var Wa = /* @__PURE__ */ N4.constructAllowedPackets([ca, la, ga, ma, fa, pa, Ns]);
function Va(e7) {
  for (const t7 of e7) switch (t7.constructor.tag) {
    case M6.packet.secretKey:
      return new _a(e7);
    case M6.packet.publicKey:
      return new qa(e7);
  }
  throw Error("No key packet found");
}
async function Xa({ armoredKey: e7, binaryKey: t7, config: r7, ...i7 }) {
  if (r7 = { ...L3, ...r7 }, !e7 && !t7) throw Error("readKey: must pass options object containing `armoredKey` or `binaryKey`");
  if (e7 && !N4.isString(e7)) throw Error("readKey: options.armoredKey must be a string");
  if (t7 && !N4.isUint8Array(t7)) throw Error("readKey: options.binaryKey must be a Uint8Array");
  const n7 = Object.keys(i7);
  if (n7.length > 0) throw Error("Unknown option: " + n7.join(", "));
  let s7;
  if (e7) {
    const { type: t8, data: r8 } = await Z3(e7);
    if (t8 !== M6.armor.publicKey && t8 !== M6.armor.privateKey) throw Error("Armored text not of type key");
    s7 = r8;
  } else s7 = t7;
  const a7 = await Hs.fromBinary(s7, Wa, r7), o7 = a7.indexOfTag(M6.packet.publicKey, M6.packet.secretKey);
  if (0 === o7.length) throw Error("No key packet found");
  return Va(a7.slice(o7[0], o7[1]));
}
var eo = /* @__PURE__ */ N4.constructAllowedPackets([oa]);
var to = /* @__PURE__ */ N4.constructAllowedPackets([Ns]);
var ro = class _ro {
  constructor(e7) {
    this.packets = e7 || new Hs();
  }
  getEncryptionKeyIDs() {
    const e7 = [];
    return this.packets.filterByTag(M6.packet.publicKeyEncryptedSessionKey).forEach((function(t7) {
      e7.push(t7.publicKeyID);
    })), e7;
  }
  getSigningKeyIDs() {
    const e7 = this.unwrapCompressed(), t7 = e7.packets.filterByTag(M6.packet.onePassSignature);
    if (t7.length > 0) return t7.map(((e8) => e8.issuerKeyID));
    return e7.packets.filterByTag(M6.packet.signature).map(((e8) => e8.issuerKeyID));
  }
  async decrypt(e7, t7, r7, i7 = /* @__PURE__ */ new Date(), n7 = L3) {
    const s7 = this.packets.filterByTag(M6.packet.symmetricallyEncryptedData, M6.packet.symEncryptedIntegrityProtectedData, M6.packet.aeadEncryptedData);
    if (0 === s7.length) throw Error("No encrypted data found");
    const a7 = s7[0], o7 = a7.cipherAlgorithm, c6 = r7 || await this.decryptSessionKeys(e7, t7, o7, i7, n7);
    let u7 = null;
    const h6 = Promise.all(c6.map((async ({ algorithm: e8, data: t8 }) => {
      if (!N4.isUint8Array(t8) || !a7.cipherAlgorithm && !N4.isString(e8)) throw Error("Invalid session key for decryption.");
      try {
        const r8 = a7.cipherAlgorithm || M6.write(M6.symmetric, e8);
        await a7.decrypt(r8, t8, n7);
      } catch (e9) {
        N4.printDebugError(e9), u7 = e9;
      }
    })));
    if (x5(a7.encrypted), a7.encrypted = null, await h6, !a7.packets || !a7.packets.length) throw u7 || Error("Decryption failed.");
    const y7 = new _ro(a7.packets);
    return a7.packets = new Hs(), y7;
  }
  async decryptSessionKeys(e7, t7, r7, i7 = /* @__PURE__ */ new Date(), n7 = L3) {
    let s7, a7 = [];
    if (t7) {
      const e8 = this.packets.filterByTag(M6.packet.symEncryptedSessionKey);
      if (0 === e8.length) throw Error("No symmetrically encrypted session key packet found.");
      await Promise.all(t7.map((async function(t8, r8) {
        let i8;
        i8 = r8 ? await Hs.fromBinary(e8.write(), eo, n7) : e8, await Promise.all(i8.map((async function(e9) {
          try {
            await e9.decrypt(t8, n7), a7.push(e9);
          } catch (e10) {
            N4.printDebugError(e10), e10 instanceof In && (s7 = e10);
          }
        })));
      })));
    } else {
      if (!e7) throw Error("No key or password specified.");
      {
        const t8 = this.packets.filterByTag(M6.packet.publicKeyEncryptedSessionKey);
        if (0 === t8.length) throw Error("No public key encrypted session key packet found.");
        await Promise.all(t8.map((async function(t9) {
          await Promise.all(e7.map((async function(e8) {
            let o7;
            try {
              o7 = (await e8.getDecryptionKeys(t9.publicKeyID, null, void 0, n7)).map(((e9) => e9.keyPacket));
            } catch (e9) {
              return void (s7 = e9);
            }
            let c6 = [M6.symmetric.aes256, M6.symmetric.aes128, M6.symmetric.tripledes, M6.symmetric.cast5];
            try {
              const t10 = await e8.getPrimarySelfSignature(i7, void 0, n7);
              t10.preferredSymmetricAlgorithms && (c6 = c6.concat(t10.preferredSymmetricAlgorithms));
            } catch {
            }
            await Promise.all(o7.map((async function(e9) {
              if (!e9.isDecrypted()) throw Error("Decryption key is not decrypted.");
              if (n7.constantTimePKCS1Decryption && (t9.publicKeyAlgorithm === M6.publicKey.rsaEncrypt || t9.publicKeyAlgorithm === M6.publicKey.rsaEncryptSign || t9.publicKeyAlgorithm === M6.publicKey.rsaSign || t9.publicKeyAlgorithm === M6.publicKey.elgamal)) {
                const i8 = t9.write();
                await Promise.all((r7 ? [r7] : Array.from(n7.constantTimePKCS1DecryptionSupportedSymmetricAlgorithms)).map((async (t10) => {
                  const r8 = new sa();
                  r8.read(i8);
                  const n8 = { sessionKeyAlgorithm: t10, sessionKey: Mi(t10) };
                  try {
                    await r8.decrypt(e9, n8), a7.push(r8);
                  } catch (e10) {
                    N4.printDebugError(e10), s7 = e10;
                  }
                })));
              } else try {
                await t9.decrypt(e9);
                const i8 = r7 || t9.sessionKeyAlgorithm;
                if (i8 && !c6.includes(M6.write(M6.symmetric, i8))) throw Error("A non-preferred symmetric algorithm was used.");
                a7.push(t9);
              } catch (e10) {
                N4.printDebugError(e10), s7 = e10;
              }
            })));
          }))), x5(t9.encrypted), t9.encrypted = null;
        })));
      }
    }
    if (a7.length > 0) {
      if (a7.length > 1) {
        const e8 = /* @__PURE__ */ new Set();
        a7 = a7.filter(((t8) => {
          const r8 = t8.sessionKeyAlgorithm + N4.uint8ArrayToString(t8.sessionKey);
          return !e8.has(r8) && (e8.add(r8), true);
        }));
      }
      return a7.map(((e8) => ({ data: e8.sessionKey, algorithm: e8.sessionKeyAlgorithm && M6.read(M6.symmetric, e8.sessionKeyAlgorithm) })));
    }
    throw s7 || Error("Session key decryption failed.");
  }
  getLiteralData() {
    const e7 = this.unwrapCompressed().packets.findPacket(M6.packet.literalData);
    return e7 && e7.getBytes() || null;
  }
  getFilename() {
    const e7 = this.unwrapCompressed().packets.findPacket(M6.packet.literalData);
    return e7 && e7.getFilename() || null;
  }
  getText() {
    const e7 = this.unwrapCompressed().packets.findPacket(M6.packet.literalData);
    return e7 ? e7.getText() : null;
  }
  static async generateSessionKey(e7 = [], t7 = /* @__PURE__ */ new Date(), r7 = [], i7 = L3) {
    const { symmetricAlgo: n7, aeadAlgo: s7 } = await (async function(e8 = [], t8 = /* @__PURE__ */ new Date(), r8 = [], i8 = L3) {
      const n8 = await Promise.all(e8.map(((e9, n9) => e9.getPrimarySelfSignature(t8, r8[n9], i8))));
      if (e8.length ? n8.every(((e9) => e9.features && e9.features[0] & M6.features.seipdv2)) : i8.aeadProtect) {
        const e9 = { symmetricAlgo: M6.symmetric.aes128, aeadAlgo: M6.aead.ocb }, t9 = [{ symmetricAlgo: i8.preferredSymmetricAlgorithm, aeadAlgo: i8.preferredAEADAlgorithm }, { symmetricAlgo: i8.preferredSymmetricAlgorithm, aeadAlgo: M6.aead.ocb }, { symmetricAlgo: M6.symmetric.aes128, aeadAlgo: i8.preferredAEADAlgorithm }];
        for (const e10 of t9) if (n8.every(((t10) => t10.preferredCipherSuites && t10.preferredCipherSuites.some(((t11) => t11[0] === e10.symmetricAlgo && t11[1] === e10.aeadAlgo))))) return e10;
        return e9;
      }
      const s8 = M6.symmetric.aes128, a8 = i8.preferredSymmetricAlgorithm;
      return { symmetricAlgo: n8.every(((e9) => e9.preferredSymmetricAlgorithms && e9.preferredSymmetricAlgorithms.includes(a8))) ? a8 : s8, aeadAlgo: void 0 };
    })(e7, t7, r7, i7), a7 = M6.read(M6.symmetric, n7), o7 = s7 ? M6.read(M6.aead, s7) : void 0;
    await Promise.all(e7.map(((e8) => e8.getEncryptionKey().catch((() => null)).then(((e9) => {
      if (e9 && (e9.keyPacket.algorithm === M6.publicKey.x25519 || e9.keyPacket.algorithm === M6.publicKey.x448) && !o7 && !N4.isAES(n7)) throw Error("Could not generate a session key compatible with the given `encryptionKeys`: X22519 and X448 keys can only be used to encrypt AES session keys; change `config.preferredSymmetricAlgorithm` accordingly.");
    })))));
    return { data: Mi(n7), algorithm: a7, aeadAlgorithm: o7 };
  }
  async encrypt(e7, t7, r7, i7 = false, n7 = [], s7 = /* @__PURE__ */ new Date(), a7 = [], o7 = L3) {
    if (r7) {
      if (!N4.isUint8Array(r7.data) || !N4.isString(r7.algorithm)) throw Error("Invalid session key for encryption.");
    } else if (e7 && e7.length) r7 = await _ro.generateSessionKey(e7, s7, a7, o7);
    else {
      if (!t7 || !t7.length) throw Error("No keys, passwords, or session key provided.");
      r7 = await _ro.generateSessionKey(void 0, void 0, void 0, o7);
    }
    const { data: c6, algorithm: u7, aeadAlgorithm: h6 } = r7, y7 = await _ro.encryptSessionKey(c6, u7, h6, e7, t7, i7, n7, s7, a7, o7), l5 = ta.fromObject({ version: h6 ? 2 : 1, aeadAlgorithm: h6 ? M6.write(M6.aead, h6) : null });
    l5.packets = this.packets;
    const p4 = M6.write(M6.symmetric, u7);
    return await l5.encrypt(p4, c6, o7), y7.packets.push(l5), l5.packets = new Hs(), y7;
  }
  static async encryptSessionKey(e7, t7, r7, i7, n7, s7 = false, a7 = [], o7 = /* @__PURE__ */ new Date(), c6 = [], u7 = L3) {
    const h6 = new Hs(), y7 = M6.write(M6.symmetric, t7), l5 = r7 && M6.write(M6.aead, r7);
    if (i7) {
      const t8 = await Promise.all(i7.map((async function(t9, r8) {
        const i8 = await t9.getEncryptionKey(a7[r8], o7, c6, u7), n8 = sa.fromObject({ version: l5 ? 6 : 3, encryptionKeyPacket: i8.keyPacket, anonymousRecipient: s7, sessionKey: e7, sessionKeyAlgorithm: y7 });
        return await n8.encrypt(i8.keyPacket), delete n8.sessionKey, n8;
      })));
      h6.push(...t8);
    }
    if (n7) {
      const t8 = async function(e8, t9) {
        try {
          return await e8.decrypt(t9, u7), 1;
        } catch {
          return 0;
        }
      }, r8 = (e8, t9) => e8 + t9, i8 = async function(e8, s9, a8, o8) {
        const c7 = new oa(u7);
        if (c7.sessionKey = e8, c7.sessionKeyAlgorithm = s9, a8 && (c7.aeadAlgorithm = a8), await c7.encrypt(o8, u7), u7.passwordCollisionCheck) {
          if (1 !== (await Promise.all(n7.map(((e9) => t8(c7, e9))))).reduce(r8)) return i8(e8, s9, o8);
        }
        return delete c7.sessionKey, c7;
      }, s8 = await Promise.all(n7.map(((t9) => i8(e7, y7, l5, t9))));
      h6.push(...s8);
    }
    return new _ro(h6);
  }
  async sign(e7 = [], t7 = [], r7 = null, i7 = [], n7 = /* @__PURE__ */ new Date(), s7 = [], a7 = [], o7 = [], c6 = L3) {
    const u7 = new Hs(), h6 = this.packets.findPacket(M6.packet.literalData);
    if (!h6) throw Error("No literal data packet to sign.");
    const y7 = await io(h6, e7, t7, r7, i7, n7, s7, a7, o7, false, c6), l5 = y7.map(((e8, t8) => Os.fromSignaturePacket(e8, 0 === t8))).reverse();
    return u7.push(...l5), u7.push(h6), u7.push(...y7), new _ro(u7);
  }
  compress(e7, t7 = L3) {
    if (e7 === M6.compression.uncompressed) return this;
    const r7 = new Vs(t7);
    r7.algorithm = e7, r7.packets = this.packets;
    const i7 = new Hs();
    return i7.push(r7), new _ro(i7);
  }
  async signDetached(e7 = [], t7 = [], r7 = null, i7 = [], n7 = /* @__PURE__ */ new Date(), s7 = [], a7 = [], o7 = [], c6 = L3) {
    const u7 = this.packets.findPacket(M6.packet.literalData);
    if (!u7) throw Error("No literal data packet to sign.");
    return new va(await io(u7, e7, t7, r7, i7, n7, s7, a7, o7, true, c6));
  }
  async verify(e7, t7 = /* @__PURE__ */ new Date(), r7 = L3) {
    const i7 = this.unwrapCompressed(), n7 = i7.packets.filterByTag(M6.packet.literalData);
    if (1 !== n7.length) throw Error("Can only verify message with one literal data packet.");
    let s7 = i7.packets;
    a6(s7.stream) && (s7 = s7.concat(await D6(s7.stream, ((e8) => e8 || []))));
    const o7 = s7.filterByTag(M6.packet.onePassSignature).reverse(), c6 = s7.filterByTag(M6.packet.signature);
    return o7.length && !c6.length && N4.isStream(s7.stream) && !a6(s7.stream) ? (await Promise.all(o7.map((async (e8) => {
      e8.correspondingSig = new Promise(((t8, r8) => {
        e8.correspondingSigResolve = t8, e8.correspondingSigReject = r8;
      })), e8.signatureData = I6((async () => (await e8.correspondingSig).signatureData)), e8.hashed = D6(await e8.hash(e8.signatureType, n7[0], void 0, false)), e8.hashed.catch((() => {
      }));
    }))), s7.stream = A6(s7.stream, (async (e8, t8) => {
      const r8 = C6(e8), i8 = B5(t8);
      try {
        for (let e9 = 0; e9 < o7.length; e9++) {
          const { value: t9 } = await r8.read();
          o7[e9].correspondingSigResolve(t9);
        }
        await r8.readToEnd(), await i8.ready, await i8.close();
      } catch (e9) {
        o7.forEach(((t9) => {
          t9.correspondingSigReject(e9);
        })), await i8.abort(e9);
      }
    })), no(o7, n7, e7, t7, false, r7)) : no(c6, n7, e7, t7, false, r7);
  }
  async verifyDetached(e7, t7, r7 = /* @__PURE__ */ new Date(), i7 = L3) {
    const n7 = this.unwrapCompressed().packets.filterByTag(M6.packet.literalData);
    if (1 !== n7.length) throw Error("Can only verify message with one literal data packet.");
    return no(e7.packets.filterByTag(M6.packet.signature), n7, t7, r7, true, i7);
  }
  unwrapCompressed() {
    const e7 = this.packets.filterByTag(M6.packet.compressedData);
    return e7.length ? new _ro(e7[0].packets) : this;
  }
  async appendSignature(e7, t7 = L3) {
    await this.packets.read(N4.isUint8Array(e7) ? e7 : (await Z3(e7)).data, to, t7);
  }
  write() {
    return this.packets.write();
  }
  armor(e7 = L3) {
    const t7 = this.packets[this.packets.length - 1], r7 = t7.constructor.tag === ta.tag ? 2 !== t7.version : this.packets.some(((e8) => e8.constructor.tag === Ns.tag && 6 !== e8.version));
    return J4(M6.armor.message, this.write(), null, null, null, r7, e7);
  }
};
async function io(e7, t7, r7 = [], i7 = null, n7 = [], s7 = /* @__PURE__ */ new Date(), a7 = [], o7 = [], c6 = [], u7 = false, h6 = L3) {
  const y7 = new Hs(), l5 = null === e7.text ? M6.signature.binary : M6.signature.text;
  if (await Promise.all(t7.map((async (t8, i8) => {
    const y8 = a7[i8];
    if (!t8.isPrivate()) throw Error("Need private key for signing");
    const p4 = await t8.getSigningKey(n7[i8], s7, y8, h6);
    return xa(e7, r7.length ? r7 : [t8], p4.keyPacket, { signatureType: l5 }, s7, o7, c6, u7, h6);
  }))).then(((e8) => {
    y7.push(...e8);
  })), i7) {
    const e8 = i7.packets.filterByTag(M6.packet.signature);
    y7.push(...e8);
  }
  return y7;
}
function no(e7, t7, r7, i7 = /* @__PURE__ */ new Date(), n7 = false, s7 = L3) {
  return e7.filter(((e8) => ["text", "binary"].includes(M6.read(M6.signature, e8.signatureType)))).map(((e8) => (function(e9, t8, r8, i8 = /* @__PURE__ */ new Date(), n8 = false, s8 = L3) {
    let a7, o7;
    for (const t9 of r8) {
      const r9 = t9.getKeys(e9.issuerKeyID);
      if (r9.length > 0) {
        a7 = t9, o7 = r9[0];
        break;
      }
    }
    const c6 = e9 instanceof Os ? e9.correspondingSig : e9, u7 = { keyID: e9.issuerKeyID, verified: (async () => {
      if (!o7) throw Error("Could not find signing key with key ID " + e9.issuerKeyID.toHex());
      await e9.verify(o7.keyPacket, e9.signatureType, t8[0], i8, n8, s8);
      const r9 = await c6;
      if (o7.getCreationTime() > r9.created) throw Error("Key is newer than the signature");
      try {
        await a7.getSigningKey(o7.getKeyID(), r9.created, void 0, s8);
      } catch (e10) {
        if (!s8.allowInsecureVerificationWithReformattedKeys || !e10.message.match(/Signature creation time is in the future/)) throw e10;
        await a7.getSigningKey(o7.getKeyID(), i8, void 0, s8);
      }
      return true;
    })(), signature: (async () => {
      const e10 = await c6, t9 = new Hs();
      return e10 && t9.push(e10), new va(t9);
    })() };
    return u7.signature.catch((() => {
    })), u7.verified.catch((() => {
    })), u7;
  })(e8, t7, r7, i7, n7, s7)));
}
async function ao({ text: e7, binary: t7, filename: r7, date: i7 = /* @__PURE__ */ new Date(), format: n7 = void 0 !== e7 ? "utf8" : "binary", ...s7 }) {
  const a7 = void 0 !== e7 ? e7 : t7;
  if (void 0 === a7) throw Error("createMessage: must pass options object containing `text` or `binary`");
  if (e7 && !N4.isString(e7) && !N4.isStream(e7)) throw Error("createMessage: options.text must be a string or stream");
  if (t7 && !N4.isUint8Array(t7) && !N4.isStream(t7)) throw Error("createMessage: options.binary must be a Uint8Array or stream");
  const o7 = Object.keys(s7);
  if (o7.length > 0) throw Error("Unknown option: " + o7.join(", "));
  const c6 = N4.isStream(a7), u7 = new Bs(i7);
  void 0 !== e7 ? u7.setText(a7, M6.write(M6.literal, n7)) : u7.setBytes(a7, M6.write(M6.literal, n7)), void 0 !== r7 && u7.setFilename(r7);
  const h6 = new Hs();
  h6.push(u7);
  const y7 = new ro(h6);
  return y7.fromStream = c6, y7;
}
async function mo({ message: e7, encryptionKeys: t7, signingKeys: r7, passwords: i7, sessionKey: n7, format: s7 = "armored", signature: a7 = null, wildcard: o7 = false, signingKeyIDs: c6 = [], encryptionKeyIDs: u7 = [], date: h6 = /* @__PURE__ */ new Date(), signingUserIDs: y7 = [], encryptionUserIDs: l5 = [], signatureNotations: p4 = [], config: g6, ...d5 }) {
  if (Do(g6 = { ...L3, ...g6 }), Eo(e7), Po(s7), t7 = xo(t7), r7 = xo(r7), i7 = xo(i7), c6 = xo(c6), u7 = xo(u7), y7 = xo(y7), l5 = xo(l5), p4 = xo(p4), d5.detached) throw Error("The `detached` option has been removed from openpgp.encrypt, separately call openpgp.sign instead. Don't forget to remove the `privateKeys` option as well.");
  if (d5.publicKeys) throw Error("The `publicKeys` option has been removed from openpgp.encrypt, pass `encryptionKeys` instead");
  if (d5.privateKeys) throw Error("The `privateKeys` option has been removed from openpgp.encrypt, pass `signingKeys` instead");
  if (void 0 !== d5.armor) throw Error("The `armor` option has been removed from openpgp.encrypt, pass `format` instead.");
  const f7 = Object.keys(d5);
  if (f7.length > 0) throw Error("Unknown option: " + f7.join(", "));
  r7 || (r7 = []);
  try {
    if ((r7.length || a7) && (e7 = await e7.sign(r7, t7, a7, c6, h6, y7, u7, p4, g6)), e7 = e7.compress(await (async function(e8 = [], t8 = /* @__PURE__ */ new Date(), r8 = [], i8 = L3) {
      const n8 = M6.compression.uncompressed, s8 = i8.preferredCompressionAlgorithm, a8 = await Promise.all(e8.map((async function(e9, n9) {
        const a9 = (await e9.getPrimarySelfSignature(t8, r8[n9], i8)).preferredCompressionAlgorithms;
        return !!a9 && a9.indexOf(s8) >= 0;
      })));
      return a8.every(Boolean) ? s8 : n8;
    })(t7, h6, l5, g6), g6), e7 = await e7.encrypt(t7, i7, n7, o7, u7, h6, l5, g6), "object" === s7) return e7;
    const d6 = "armored" === s7 ? e7.armor(g6) : e7.write();
    return await Io(d6);
  } catch (e8) {
    throw N4.wrapError("Error encrypting message", e8);
  }
}
function Eo(e7) {
  if (!(e7 instanceof ro)) throw Error("Parameter [message] needs to be of type Message");
}
function Po(e7) {
  if ("armored" !== e7 && "binary" !== e7 && "object" !== e7) throw Error("Unsupported format " + e7);
}
var Uo = Object.keys(L3).length;
function Do(e7) {
  const t7 = Object.keys(e7);
  if (t7.length !== Uo) {
    for (const e8 of t7) if (void 0 === L3[e8]) throw Error("Unknown config property: " + e8);
  }
}
function xo(e7) {
  return e7 && !N4.isArray(e7) && (e7 = [e7]), e7;
}
async function Io(e7) {
  return "array" === N4.isStream(e7) ? D6(e7) : e7;
}

// crypto/day.ts
var DAY_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
function utcDay(date = /* @__PURE__ */ new Date()) {
  return date.toISOString().slice(0, 10);
}
function isDay(text) {
  if (typeof text !== "string" || !DAY_RE.test(text)) return false;
  const d5 = /* @__PURE__ */ new Date(`${text}T00:00:00Z`);
  return !Number.isNaN(d5.getTime()) && utcDay(d5) === text;
}
function dayStart(day) {
  if (!isDay(day)) throw new RangeError(`not a YYYY-MM-DD day: ${String(day)}`);
  return /* @__PURE__ */ new Date(`${day}T00:00:00Z`);
}

// crypto/file-envelope.ts
async function encryptFileStream(plaintext, keys, now = /* @__PURE__ */ new Date()) {
  if (keys.length === 0) throw new RangeError("no recipients");
  const message = await ao({ binary: plaintext, format: "binary", date: dayStart(utcDay(now)) });
  return await mo({
    message,
    encryptionKeys: keys,
    format: "binary",
    date: now,
    config: { aeadProtect: false, preferredCompressionAlgorithm: M6.compression.uncompressed }
  });
}

// .bench-tmp/entry.ts
window.bench = async (armored) => {
  const out = [];
  const data = new Uint8Array(20 * 1024 * 1024);
  crypto.getRandomValues(data.subarray(0, 65536));
  const blob = new Blob([data]);
  let t7 = performance.now();
  const h6 = sha256.create();
  for (let i7 = 0; i7 < data.length; i7 += 65536) h6.update(data.subarray(i7, i7 + 65536));
  h6.digest();
  out.push(`noble sha256 20MiB ${(performance.now() - t7).toFixed(0)} ms`);
  const key = await Xa({ armoredKey: armored });
  t7 = performance.now();
  let n7 = 0;
  const r7 = (await encryptFileStream(blob.stream(), [key])).getReader();
  let chunks = 0;
  for (; ; ) {
    const { done, value } = await r7.read();
    if (done) break;
    n7 += value.length;
    chunks++;
  }
  out.push(`encrypt stream 20MiB ${(performance.now() - t7).toFixed(0)} ms, ${chunks} chunks`);
  t7 = performance.now();
  const r22 = blob.stream().getReader();
  let c22 = 0;
  for (; ; ) {
    const { done, value } = await r22.read();
    if (done) break;
    c22++;
  }
  out.push(`blob.stream read ${(performance.now() - t7).toFixed(0)} ms ${c22} chunks`);
  t7 = performance.now();
  const msg = await ao({ binary: data });
  await mo({ message: msg, encryptionKeys: key, format: "binary", config: { aeadProtect: false } });
  out.push(`encrypt buffer 20MiB ${(performance.now() - t7).toFixed(0)} ms`);
  return out.join("\n");
};
/*! Bundled license information:

openpgp/dist/lightweight/sha512.min.mjs:
  (*! OpenPGP.js v6.3.2 - 2026-09-24 - this is LGPL licensed code, see LICENSE/our website https://openpgpjs.org/ for more information. *)
  (*! noble-hashes - MIT License (c) 2022 Paul Miller (paulmillr.com) *)

openpgp/dist/lightweight/noble_curves.min.mjs:
  (*! OpenPGP.js v6.3.2 - 2026-09-24 - this is LGPL licensed code, see LICENSE/our website https://openpgpjs.org/ for more information. *)
  (*! noble-curves - MIT License (c) 2022 Paul Miller (paulmillr.com) *)

openpgp/dist/lightweight/noble_hashes.min.mjs:
openpgp/dist/lightweight/nacl-fast.min.mjs:
openpgp/dist/lightweight/legacy_ciphers.min.mjs:
openpgp/dist/lightweight/argon2id.min.mjs:
openpgp/dist/lightweight/unbzip2-stream.min.mjs:
  (*! OpenPGP.js v6.3.2 - 2026-09-24 - this is LGPL licensed code, see LICENSE/our website https://openpgpjs.org/ for more information. *)

openpgp/dist/lightweight/openpgp.min.mjs:
  (*! OpenPGP.js v6.3.2 - 2026-09-24 - this is LGPL licensed code, see LICENSE/our website https://openpgpjs.org/ for more information. *)
  (*! noble-ciphers - MIT License (c) 2023 Paul Miller (paulmillr.com) *)
*/

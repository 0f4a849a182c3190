import CKernels
import XCTest

/// f16 / bf16 <-> f32: rounding, overflow, subnormals, inf and NaN.
final class ConversionTests: XCTestCase {
    func testF32ToF16KnownValues() {
        let cases: [(Float, UInt16)] = [
            (1, 0x3C00), (-2, 0xC000), (65504, 0x7BFF), (65519.99, 0x7BFF), (65520, 0x7C00), (1e10, 0x7C00),
            (0x1p-24, 0x0001), (0x1p-25, 0x0000), (0x1.000002p-25, 0x0001), (0x1.8p-24, 0x0002),
            (0x1p-14, 0x0400), (0x1.FF8p-15, 0x03FF), (0x1.FFCp-15, 0x0400), (-0.0, 0x8000),
            (.infinity, 0x7C00), (-.infinity, 0xFC00), (1.0009765625, 0x3C01),
            (1.00048828125, 0x3C00), (1.00146484375, 0x3C02), (0.333333343, 0x3555),
        ]
        for (f, h) in cases {
            XCTAssertEqual(lr_f32_to_f16(f), h, "f32_to_f16(\(f))")
        }
    }

    func testF16NaNStaysNaNAndQuiet() {
        XCTAssertEqual(lr_f32_to_f16(Float(bitPattern: 0x7FC0_0000)), 0x7E00)
        XCTAssertEqual(lr_f32_to_f16(Float(bitPattern: 0xFF80_0001)), 0xFE00)
        XCTAssertEqual(lr_f32_to_f16(Float(bitPattern: 0x7FFF_E000)), 0x7FFF)
        XCTAssertTrue(lr_f16_to_f32(0x7E00).isNaN)
        XCTAssertTrue(lr_f16_to_f32(0x7C01).isNaN)
        XCTAssertEqual(lr_f16_to_f32(0x7C00), .infinity)
        XCTAssertEqual(lr_f16_to_f32(0xFC00), -.infinity)
    }

    func testEveryHalfRoundTripsAndConvertsExactly() {
        for bits in 0...UInt32(0xFFFF) {
            let h = UInt16(bits)
            let f = lr_f16_to_f32(h)
            let exponent = Int(h >> 10) & 31, mantissa = Int(h & 0x3FF)
            if exponent == 31 {
                // signalling NaNs come back quiet
                XCTAssertEqual(lr_f32_to_f16(f), mantissa == 0 ? h : h | 0x200)
                continue
            }
            XCTAssertEqual(lr_f32_to_f16(f), h)
            var v = exponent == 0 ? Double(mantissa) * 0x1p-24 : (1 + Double(mantissa) / 1024) * pow(2, Double(exponent - 15))
            if h & 0x8000 != 0 { v = -v }
            XCTAssertEqual(Double(f), v, "half \(String(h, radix: 16))")
        }
    }

    func testF32ToF16RoundsToNearestEven() {
        var rng = KernelRNG(seed: 7)
        for _ in 0..<200_000 {
            // exponents from below the subnormal range to past the largest half
            let u = UInt32(truncatingIfNeeded: rng.next())
            let f = Float(bitPattern: (u & 0x807F_FFFF) | UInt32(100 + rng.next() % 46) << 23)
            let h = lr_f32_to_f16(f)
            let want = Double(abs(f))
            let got = Double(abs(lr_f16_to_f32(h)))
            if got.isInfinite {
                XCTAssertGreaterThanOrEqual(want, 65520)
                continue
            }
            let m = h & 0x7FFF
            let up = m < 0x7BFF ? Double(abs(lr_f16_to_f32(m + 1))) : .infinity
            let down = m > 0 ? Double(abs(lr_f16_to_f32(m - 1))) : -.infinity
            let err = abs(got - want)
            XCTAssertLessThanOrEqual(err, abs(up - want))
            XCTAssertLessThanOrEqual(err, abs(want - down))
            if err != 0 && (err == abs(up - want) || err == abs(want - down)) {
                XCTAssertEqual(m & 1, 0, "tie must round to even: \(f)")
            }
        }
    }

    func testBF16() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80), (0x3F80_8000, 0x3F80), (0x3F81_8000, 0x3F82), (0x3F80_8001, 0x3F81),
            (0x7F80_0000, 0x7F80), (0xFF80_0000, 0xFF80), (0x7F80_0001, 0x7FC0), (0xFFC1_2345, 0xFFC1),
            (0x7F7F_FFFF, 0x7F80), (0x0000_0001, 0x0000), (0x8000_0000, 0x8000), (0x0001_8000, 0x0002),
        ]
        for (f, h) in cases {
            XCTAssertEqual(lr_f32_to_bf16(Float(bitPattern: f)), h, "f32_to_bf16(\(String(f, radix: 16)))")
        }
        XCTAssertEqual(lr_bf16_to_f32(0x3F80), 1)
        XCTAssertEqual(lr_bf16_to_f32(0xC040), -3)
        XCTAssertEqual(lr_bf16_to_f32(0x8001).bitPattern, 0x8001_0000)
        XCTAssertTrue(lr_bf16_to_f32(0x7FC0).isNaN)
    }
}

/// Compares a presented credential with the admin token without an early exit, so the time an
/// answer takes says nothing about how many leading bytes were right. Every byte position up to the
/// longer of the two is visited; a difference in length is folded into the same result instead of
/// returning at once (the length of the token is all that the loop count can tell).
enum ConstantTimeComparison {
    static func equal(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: presented.count ^ expected.count)
        for index in 0..<max(presented.count, expected.count) {
            let a = index < presented.count ? presented[index] : 0
            let b = index < expected.count ? expected[index] : 0
            difference |= UInt(a ^ b)
        }
        return difference == 0
    }
}

/// "Did you mean …" for a mistyped command or option: the nearest candidate by edit
/// distance, when it is near enough to be a typo rather than a different word.
enum Suggestion {
    /// The candidate at the smallest distance (ties: the first), if that distance is at
    /// most a third of the typed word's length (at least 1); a prefix of one candidate wins.
    static func closest(to typed: String, among candidates: [String]) -> String? {
        guard !typed.isEmpty else { return nil }
        let prefixed = candidates.filter { $0.hasPrefix(typed) }
        if prefixed.count == 1 { return prefixed[0] }
        let limit = max(1, typed.count / 3)
        var best: (word: String, distance: Int)?
        for candidate in candidates {
            let d = distance(Array(typed.utf8), Array(candidate.utf8))
            if d <= limit && d < (best?.distance ?? Int.max) { best = (candidate, d) }
        }
        return best?.word
    }

    /// Damerau-Levenshtein (optimal string alignment): a swapped pair of letters counts as one edit.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                var d = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost)
                if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d = min(d, rows[i - 2][j - 2] + 1) }
                rows[i][j] = d
            }
        }
        return rows[a.count][b.count]
    }

    /// " (did you mean 'x'?)" or "".
    static func hint(_ typed: String, among candidates: [String], prefix: String = "") -> String {
        closest(to: typed, among: candidates).map { " (did you mean '\(prefix)\($0)'?)" } ?? ""
    }
}

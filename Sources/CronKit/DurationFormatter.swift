/// Writes a duration the way job files do: `1h30m`, `90s` is `1m30s`, `2d`.
public enum DurationFormatter {
    public static func string(seconds: Int64) -> String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }

    public static func string(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds != 0 && seconds < 60 {
            return "\(seconds * 1000 + attoseconds / 1_000_000_000_000_000)ms"
        }
        return string(seconds: seconds)
    }
}

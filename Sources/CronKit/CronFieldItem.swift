/// One comma-separated item of a cron field, as written (kept for descriptions).
public enum CronFieldItem: Sendable, Hashable {
    /// `*` or `?`.
    case any
    /// `*/step`.
    case anyStep(Int)
    /// `n`.
    case value(Int)
    /// `a-b`, `a-b/step`, or `a/step` (which means `a-max/step`).
    case range(Int, Int, step: Int)
    /// Day-of-month `L`: the last day of the month.
    case lastDay
    /// Day-of-month `LW`: the last weekday (Monday–Friday) of the month.
    case lastWeekdayOfMonth
    /// Day-of-month `nW`: the weekday nearest day n, within the same month.
    case nearestWeekday(Int)
    /// Day-of-week `nL`: the last weekday n of the month.
    case lastOfWeekday(Int)
    /// Day-of-week `n#k`: the k-th weekday n of the month.
    case nthWeekday(Int, Int)
}

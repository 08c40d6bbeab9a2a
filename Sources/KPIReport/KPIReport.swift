/// The weekly KPI review (see ``WeeklyReview``): every KPI of a site's templates over one ISO
/// week in the site's local time, with status, week-over-week and 4-week changes, an 8-week
/// trend and the worst breakdown items, rendered as HTML, JSON, CSV or Markdown.
public enum KPIReport {}

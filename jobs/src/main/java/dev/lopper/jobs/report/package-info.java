/**
 * What people look at: the self-contained {@code report.html} of every run ({@link
 * dev.lopper.jobs.report.HtmlReport}: JTE templates over a record per section, plots as inline
 * SVG), the comparison of a scheduled run with the previous one ({@link
 * dev.lopper.jobs.report.RunComparison}), progress on the console while Spark works ({@link
 * dev.lopper.jobs.report.ConsoleProgress}) and the JSON summary for scripts ({@link
 * dev.lopper.jobs.report.RunSummary}).
 */
package dev.lopper.jobs.report;

# Reference HAC standard errors for analysis.its.segmented_regression (its default).
# Run from the project root (Debian: r-base-core, r-cran-sandwich):
#   Rscript tests/data/reference/its/hac_reference.R
# Writes hac_data_<phi>.csv (simulated: a level shift of 0.5 on day 60 of 120, AR(1)
# errors) and hac_reference.csv: kernHAC with VAR(1) prewhitening, Bartlett kernel,
# Andrews' AR(1) plug-in bandwidth and the n / (n - k) adjustment.
suppressMessages(library(sandwich))
here <- "tests/data/reference/its"
out <- NULL
for (phi in c(0, 0.3, 0.75)) {
  set.seed(100 + 10 * phi)
  n <- 120
  e <- if (phi > 0) as.numeric(arima.sim(list(ar = phi), n, sd = 0.2)) else rnorm(n, sd = 0.2)
  tt <- 0:(n - 1); post <- as.numeric(tt >= 60); since <- pmax(tt - 60, 0)
  d <- data.frame(y = 3 + 0.5 * post + e, tt, post, since)
  write.csv(d, file.path(here, sprintf("hac_data_%s.csv", phi)), row.names = FALSE)
  f <- lm(y ~ tt + post + since, d)
  V <- kernHAC(f, kernel = "Bartlett", prewhite = 1, bw = bwAndrews, adjust = TRUE)
  bw <- bwAndrews(f, kernel = "Bartlett", prewhite = 1)
  out <- rbind(out, data.frame(phi = phi, term = c("intercept", "time", "level_change",
    "slope_change"), robust_se = sprintf("%.15g", sqrt(diag(V))), bandwidth = sprintf("%.15g", bw)))
}
write.csv(out, file.path(here, "hac_reference.csv"), row.names = FALSE, quote = FALSE)
cat(R.version.string, "; sandwich", as.character(packageVersion("sandwich")), "\n")
print(out)

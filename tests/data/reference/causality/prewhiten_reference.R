# Reference prewhitened cross-correlations for analysis.causality.cross_correlation.
# Run from the project root (Debian: r-base-core; base R only):
#   Rscript tests/data/reference/causality/prewhiten_reference.R
# Writes prewhiten_data.csv (simulated: x an AR(2) series, y = x three days later plus
# noise, both positive counts) and prewhiten_reference.csv: the steps of TSA::prewhiten
# written out in base R -- ar.ols on log1p(x) with an intercept, both log1p series
# filtered by c(1, -phi), then ccf(x, y) -- for a fixed order (2) and the AIC's order.
here <- "tests/data/reference/causality"
set.seed(20261205)
n <- 300
e <- rnorm(n + 50)
z <- as.numeric(filter(e, c(1.2, -0.35), method = "recursive"))[51:(n + 50)]
x <- round(exp(4 + 0.5 * z))
y <- round(exp(2 + 0.4 * c(rep(0, 3), z[1:(n - 3)]) + rnorm(n, sd = 0.3)))
write.csv(data.frame(x = x, y = y), file.path(here, "prewhiten_data.csv"), row.names = FALSE)
lx <- log1p(x); ly <- log1p(y)
one <- function(order, aic) {
  fit <- ar.ols(lx, aic = aic, order.max = order, demean = TRUE, intercept = TRUE)
  phi <- as.numeric(fit$ar)
  fx <- stats::filter(lx, c(1, -phi), method = "convolution", sides = 1)
  fy <- stats::filter(ly, c(1, -phi), method = "convolution", sides = 1)
  r <- ccf(as.numeric(fx), as.numeric(fy), lag.max = 14, na.action = na.omit, plot = FALSE)
  data.frame(setting = if (aic) "aic" else "fixed", ar_order = fit$order,
             lag = as.integer(r$lag), ccf = sprintf("%.15g", as.numeric(r$acf)),
             n = r$n.used)
}
out <- rbind(one(2, FALSE), one(14, TRUE))
write.csv(out, file.path(here, "prewhiten_reference.csv"), row.names = FALSE, quote = FALSE)
cat(R.version.string, "\n")
print(head(out[out$setting == "fixed", ], 20))
print(unique(out[, c("setting", "ar_order")]))

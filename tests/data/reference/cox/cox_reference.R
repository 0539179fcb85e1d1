# Reference numbers for analysis.outcomes.cox: R survival's coxph with cluster() robust
# standard errors, Breslow and Efron ties, on panels whose intervals often hold no event.
# Run from the project root after make_panels.py:
#   Rscript tests/data/reference/cox/cox_reference.R
# Writes tests/data/reference/cox/cox_reference.csv (committed).
suppressMessages(library(survival))
here <- "tests/data/reference/cox"
ks_dir <- Sys.getenv("KS_DIR", "data/raw/reference/kelley_simmons_2015")
fits <- list()
add <- function(dataset, data, formula, ties) {
  f <- coxph(formula, data = data, ties = ties)
  s <- summary(f)$coefficients
  fits[[length(fits) + 1]] <<- data.frame(
    dataset = dataset, ties = ties, term = rownames(s),
    coef = sprintf("%.12g", s[, "coef"]),
    se = sprintf("%.12g", s[, "se(coef)"]),
    robust_se = sprintf("%.12g", s[, "robust se"]),
    n = f$n, events = f$nevent
  )
}
sim <- read.csv(file.path(here, "panel_sim.csv"))
blm <- read.csv(file.path(here, "panel_blm.csv"))
ks <- read.csv(file.path(ks_dir, "ks_table3_riskset.csv"))
ks_formula <- Surv(start_time, yrfromj2, fail) ~ inreport1 + women1 + fh_cl1 +
  corrected_regcrim1_1 + ratproto2000_1 + missinfo8_2 + ht_incidence_origin +
  ht_incidence_transit + ht_incidence_destination + cluster(name)
for (ties in c("breslow", "efron")) {
  add("sim", sim, Surv(start, stop, event) ~ pressure + x2 + cluster(case_id), ties)
  add("blm", blm, Surv(start, stop, event) ~ pressure + cluster(case_id), ties)
  add("ks_3.1", ks, ks_formula, ties)
}
out <- do.call(rbind, fits)
write.csv(out, file.path(here, "cox_reference.csv"), row.names = FALSE, quote = FALSE)
cat(R.version.string, "; survival", as.character(packageVersion("survival")), "\n")
print(out)

# edgeR quasi-likelihood and limma-voom on one model: the timing peers of the benchmark.
#
# Used by benchmarks/run_benchmark.py (the `de` part); runs on its own too:
#
#   Rscript tests/r/edger_limma_timing.R method=edger_ql counts=counts.tsv.gz \
#     design=design.tsv contrasts=vectors.tsv out=results.tsv timing=timing.tsv \
#     [min_count=10] [min_samples=3]
#
# method:    edger_ql (DGEList, calcNormFactors, estimateDisp, glmQLFit, glmQLFTest per contrast)
#            | limma_voom (DGEList, calcNormFactors, voom, lmFit, contrasts.fit + eBayes per
#            contrast); each package's standard pipeline with its defaults.
# counts:    TSV (optionally gzipped), genes x samples, first column the gene id (may hold more
#            samples than the model uses).
# design:    TSV, samples x coefficients, first column `sample` (the model's design matrix as
#            the workflow builds it), so R fits exactly the same model.
# contrasts: TSV, first column `coefficient` (design column names), then one numeric column
#            per contrast.
# Prefilter as the workflow's: keep genes with >= min_count reads in >= min_samples samples.
# out:       TSV: contrast, gene_id, statistic (F for edgeR, moderated t for limma), pvalue, padj.
# timing:    TSV: step, seconds (read: reading the counts; fit; test: all contrasts).

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)[1])), "args.R"))
opt <- parse_args(commandArgs(trailingOnly = TRUE))
for (key in c("method", "counts", "design", "contrasts", "out", "timing")) {
  if (!key %in% names(opt)) stop("missing argument: ", key)
}
get <- function(key, default) if (key %in% names(opt)) opt[[key]] else default
method <- opt[["method"]]
if (!method %in% c("edger_ql", "limma_voom")) stop("method must be edger_ql or limma_voom")
suppressPackageStartupMessages(library(edgeR))  # limma comes with edgeR

elapsed <- function() proc.time()[["elapsed"]]
start <- elapsed()
counts <- as.matrix(read.delim(opt[["counts"]], check.names = FALSE, row.names = 1))
design_table <- read.delim(opt[["design"]], check.names = FALSE, stringsAsFactors = FALSE)
design <- as.matrix(design_table[, -1, drop = FALSE])
rownames(design) <- design_table$sample
absent <- setdiff(rownames(design), colnames(counts))
if (length(absent) > 0) stop("samples not in the count matrix: ", paste(absent, collapse = ", "))
counts <- counts[, rownames(design), drop = FALSE]
vectors <- read.delim(opt[["contrasts"]], check.names = FALSE, stringsAsFactors = FALSE)
rownames(vectors) <- vectors$coefficient
if (!setequal(rownames(vectors), colnames(design))) {
  stop("contrast rows do not match the design columns: ", paste(colnames(design), collapse = ", "))
}
vectors <- as.matrix(vectors[colnames(design), -1, drop = FALSE])
read_seconds <- elapsed() - start

start <- elapsed()
keep <- rowSums(counts >= as.numeric(get("min_count", "10"))) >=
  as.numeric(get("min_samples", "3"))
y <- calcNormFactors(DGEList(counts[keep, , drop = FALSE]))
if (method == "edger_ql") {
  y <- estimateDisp(y, design)
  fit <- glmQLFit(y, design)
} else {
  v <- voom(y, design)
  fit <- lmFit(v, design)
}
fit_seconds <- elapsed() - start

start <- elapsed()
tables <- list()
for (name in colnames(vectors)) {
  if (method == "edger_ql") {
    test <- glmQLFTest(fit, contrast = vectors[, name])$table
    statistic <- test$F
    pvalue <- test$PValue
  } else {
    moderated <- eBayes(contrasts.fit(fit, vectors[, name, drop = FALSE]))
    statistic <- moderated$t[, 1]
    pvalue <- moderated$p.value[, 1]
  }
  tables[[name]] <- data.frame(
    contrast = name, gene_id = rownames(y), statistic = statistic, pvalue = pvalue,
    padj = p.adjust(pvalue, method = "BH")
  )
}
test_seconds <- elapsed() - start

write.table(do.call(rbind, tables), opt[["out"]], sep = "\t", quote = FALSE, row.names = FALSE)
write.table(
  data.frame(
    step = c("read", "fit", "test"), seconds = c(read_seconds, fit_seconds, test_seconds)
  ),
  opt[["timing"]],
  sep = "\t", quote = FALSE, row.names = FALSE
)

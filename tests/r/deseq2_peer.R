# DESeq2 (R) peer of the workflow's differential expression: one DESeq() fit, many contrasts.
#
# Used by tests/test_deseq2_peer.py; runs on its own too:
#
#   Rscript tests/r/deseq2_peer.R counts=counts.tsv samples=samples.tsv \
#     design='~ batch + medium * therapy' reference='medium=control,therapy=none,batch=b1' \
#     contrasts=vectors.tsv out=results.tsv [alpha=0.05] [min_count=10] [min_samples=3] \
#     [independent_filter=TRUE] [cooks_filter=TRUE] [refit_cooks=TRUE] [timing=timing.tsv]
#     [fit_type=parametric] [trend=trend.tsv]
#
# counts:    TSV, genes x samples, first column the gene id (may hold more samples than used).
# samples:   TSV sample sheet of the model's samples only: a `sample` column plus the factors.
# reference: reference level per design factor; the other levels follow in order of first
#            appearance in the sheet (as msc_secretome.design.model_samples orders them).
# contrasts: TSV, first column `coefficient` (formulaic names such as `batch[T.b2]`,
#            `medium[T.msc_cm]:therapy[T.chemo]`), then one numeric column per contrast.
#            Rows are matched by name to the columns of R's model matrix, so the order is free.
# Prefilter as the workflow's: keep genes with >= min_count reads in >= min_samples samples.
# out:       TSV: contrast, gene_id, baseMean, log2FoldChange, lfcSE, stat, pvalue, padj.
# timing:    TSV: step, seconds (the DESeq() call and all results() calls).
# fit_type:  DESeq()'s fitType (parametric, the default, falls back to local when it fails).
# trend:     TSV: gene_id, baseMean, dispGeneEst, dispFit, dispersion, fit_type (the fit used).

suppressPackageStartupMessages(library(DESeq2))

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)[1])), "args.R"))

opt <- parse_args(commandArgs(trailingOnly = TRUE))
required <- c("counts", "samples", "design", "contrasts", "out")
missing <- setdiff(required, names(opt))
if (length(missing) > 0) stop("missing argument(s): ", paste(missing, collapse = ", "))
get <- function(key, default) if (key %in% names(opt)) opt[[key]] else default
flag <- function(key, default) as.logical(toupper(get(key, default)))

alpha <- as.numeric(get("alpha", "0.05"))
min_count <- as.numeric(get("min_count", "10"))
min_samples <- as.numeric(get("min_samples", "3"))

read_tsv <- function(path) {
  read.delim(path, check.names = FALSE, stringsAsFactors = FALSE, colClasses = "character")
}

sheet <- read_tsv(opt[["samples"]])
rownames(sheet) <- sheet$sample
counts <- read.delim(opt[["counts"]], check.names = FALSE, row.names = 1)
absent <- setdiff(sheet$sample, colnames(counts))
if (length(absent) > 0) stop("samples not in the count matrix: ", paste(absent, collapse = ", "))
counts <- as.matrix(counts[, sheet$sample, drop = FALSE])
storage.mode(counts) <- "integer"

design <- as.formula(opt[["design"]])
references <- list()
if (nzchar(get("reference", ""))) {
  for (item in strsplit(get("reference", ""), ",")[[1]]) {
    kv <- strsplit(item, "=")[[1]]
    references[[kv[1]]] <- kv[2]
  }
}
for (variable in all.vars(design)) {
  levels <- unique(sheet[[variable]])
  reference <- if (is.null(references[[variable]])) levels[1] else references[[variable]]
  if (!reference %in% levels) stop("reference ", reference, " is not a level of ", variable)
  sheet[[variable]] <- factor(sheet[[variable]], levels = c(reference, setdiff(levels, reference)))
}

keep <- rowSums(counts >= min_count) >= min_samples
counts <- counts[keep, , drop = FALSE]

dds <- DESeqDataSetFromMatrix(counts, sheet, design)
minimum_replicates <- if (flag("refit_cooks", "TRUE")) 7 else Inf
start <- proc.time()[["elapsed"]]
dds <- DESeq(
  dds,
  fitType = get("fit_type", "parametric"), minReplicatesForReplace = minimum_replicates,
  quiet = TRUE
)
fit_seconds <- proc.time()[["elapsed"]] - start

# formulaic column names -> R model-matrix column names
r_name <- function(name) {
  name <- gsub("\\[T\\.([^]]*)\\]", "\\1", name)
  ifelse(name == "Intercept", "(Intercept)", name)
}
vectors <- read_tsv(opt[["contrasts"]])
coefficients <- colnames(model.matrix(design, as.data.frame(colData(dds))))
rows <- r_name(vectors$coefficient)
if (!setequal(rows, coefficients) || length(rows) != length(coefficients)) {
  stop(
    "contrast rows (", paste(rows, collapse = ", "), ") do not match the model matrix (",
    paste(coefficients, collapse = ", "), ")"
  )
}
order <- match(coefficients, rows)

start <- proc.time()[["elapsed"]]
tables <- list()
for (name in setdiff(colnames(vectors), "coefficient")) {
  vector <- as.numeric(vectors[[name]])[order]
  res <- results(
    dds,
    contrast = vector,
    alpha = alpha,
    independentFiltering = flag("independent_filter", "TRUE"),
    cooksCutoff = flag("cooks_filter", "TRUE")
  )
  tables[[name]] <- data.frame(
    contrast = name,
    gene_id = rownames(res),
    baseMean = res$baseMean,
    log2FoldChange = res$log2FoldChange,
    lfcSE = res$lfcSE,
    stat = res$stat,
    pvalue = res$pvalue,
    padj = res$padj
  )
}
results_seconds <- proc.time()[["elapsed"]] - start

write.table(
  do.call(rbind, tables), opt[["out"]],
  sep = "\t", quote = FALSE, row.names = FALSE, na = "NA"
)
if (nzchar(get("trend", ""))) {
  write.table(
    data.frame(
      gene_id = rownames(dds), baseMean = mcols(dds)$baseMean,
      dispGeneEst = mcols(dds)$dispGeneEst, dispFit = mcols(dds)$dispFit,
      dispersion = dispersions(dds), fit_type = attr(dispersionFunction(dds), "fitType")
    ),
    get("trend", ""),
    sep = "\t", quote = FALSE, row.names = FALSE, na = "NA"
  )
}
if (nzchar(get("timing", ""))) {
  write.table(
    data.frame(step = c("DESeq", "results"), seconds = c(fit_seconds, results_seconds)),
    get("timing", ""),
    sep = "\t", quote = FALSE, row.names = FALSE
  )
}

# DESeq2 (R) peer of the QC's blind VST with a trend fitted on a subset (qc.vst_genes).
#
# Used by tests/test_vst_nsub_peer.py; runs on its own too:
#
#   Rscript tests/r/vst_peer.R counts=counts.tsv subset=subset.tsv nsub=1000 out=folder
#
# counts: TSV, genes x samples, first column the gene id (raw counts, already prefiltered).
# subset: TSV with a column `position` (0-based row positions in `counts`): the workflow's
#         trend genes, given to R's vst() steps instead of R's own pick.
# nsub:   vst()'s nsub.
# out:    folder receiving
#   vst_r.tsv      DESeq2::vst(dds, blind = TRUE, nsub = nsub): R's own subset and steps;
#   vst_steps.tsv  vst()'s steps on `subset`: estimateDispersionsGeneEst and
#                  estimateDispersionsFit on dds[subset, ], dispersionFunction(dds) <- that
#                  trend, varianceStabilizingTransformation(dds, blind = FALSE);
#   subset_r.tsv   R's own subset (0-based positions, in vst()'s order);
#   trend.tsv      fit_type, asymptDisp, extraPois of the steps' fit; size_factors.tsv.

suppressPackageStartupMessages(library(DESeq2))

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)[1])), "args.R"))

opt <- parse_args(commandArgs(trailingOnly = TRUE))
missing <- setdiff(c("counts", "subset", "nsub", "out"), names(opt))
if (length(missing) > 0) stop("missing argument(s): ", paste(missing, collapse = ", "))
nsub <- as.integer(opt[["nsub"]])
out <- opt[["out"]]

counts <- as.matrix(read.delim(opt[["counts"]], row.names = 1, check.names = FALSE))
storage.mode(counts) <- "integer"
subset <- read.delim(opt[["subset"]])$position + 1L
dds <- DESeqDataSetFromMatrix(counts, DataFrame(row.names = colnames(counts)), ~1)

write_matrix <- function(m, path) {
  table <- data.frame(gene_id = rownames(m), m, check.names = FALSE)
  write.table(table, path, sep = "\t", quote = FALSE, row.names = FALSE)
}
trend_row <- function(object, what) {
  f <- dispersionFunction(object)
  coefs <- attr(f, "coefficients")
  data.frame(
    fit = what, fit_type = attr(f, "fitType"),
    asymptDisp = if (is.null(coefs)) NA else coefs[["asymptDisp"]],
    extraPois = if (is.null(coefs)) NA else coefs[["extraPois"]]
  )
}

# vst() itself, R's own subset
r_vst <- vst(dds, blind = TRUE, nsub = nsub)
write_matrix(assay(r_vst), file.path(out, "vst_r.tsv"))

# vst()'s pick, repeated to report it (the lines of DESeq2::vst)
sized <- estimateSizeFactors(dds)
baseMean <- rowMeans(counts(sized, normalized = TRUE))
above <- which(baseMean > 5)
o <- order(baseMean[above])
picked <- above[o[round(seq(from = 1, to = length(o), length = nsub))]]
write.table(data.frame(position = picked - 1L), file.path(out, "subset_r.tsv"),
            sep = "\t", quote = FALSE, row.names = FALSE)

# vst()'s steps on the workflow's subset
sub <- sized[subset, ]
sub <- estimateDispersionsGeneEst(sub, quiet = TRUE)
sub <- estimateDispersionsFit(sub, fitType = "parametric", quiet = TRUE)
suppressMessages(dispersionFunction(sized) <- dispersionFunction(sub))
steps <- varianceStabilizingTransformation(sized, blind = FALSE)
write_matrix(assay(steps), file.path(out, "vst_steps.tsv"))

write.table(trend_row(sub, "steps"),
            file.path(out, "trend.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)
write.table(data.frame(sample = colnames(sized), size_factor = sizeFactors(sized)),
            file.path(out, "size_factors.tsv"), sep = "\t", quote = FALSE, row.names = FALSE)

# edgeR (R) peer of the workflow's quasi-likelihood F-test (de.test: qlf).
#
# Used by tests/test_qlf_peer.py; runs on its own too:
#
#   Rscript tests/r/edger_qlf_peer.R counts=counts.tsv design=design.tsv genes=genes.tsv \
#     contrasts=vectors.tsv out=results.tsv
#
# counts:    TSV, genes x samples, first column the gene id (the genes the model tested).
# design:    TSV, samples x coefficients, first column `sample` (the model's design matrix).
# genes:     TSV: gene_id, dispersion (the NB dispersion the QL fit uses: DESeq2's trend),
#            abundance (the covariate of the prior trend), offset is per sample, see below.
# offsets:   TSV: sample, offset (log size factor).
# contrasts: TSV, first column `coefficient` (design column names), then one numeric column
#            per contrast.
# out:       TSV: contrast, gene_id, F, PValue, df_prior (edgeR glmQLFit + glmQLFTest with the
#            given dispersions, offsets and abundance), and edgeR's own pipeline
#            (calcNormFactors, estimateDisp, glmQLFit defaults): PValue_edger, df_prior_edger.

suppressPackageStartupMessages(library(edgeR))

source(file.path(dirname(sub("^--file=", "", grep("^--file=", commandArgs(), value = TRUE)[1])), "args.R"))
opt <- parse_args(commandArgs(trailingOnly = TRUE))
for (key in c("counts", "design", "genes", "offsets", "contrasts", "out")) {
  if (!key %in% names(opt)) stop("missing argument: ", key)
}
read <- function(path) read.delim(path, check.names = FALSE, stringsAsFactors = FALSE)
counts <- as.matrix(read.delim(opt[["counts"]], check.names = FALSE, row.names = 1))
design_table <- read(opt[["design"]])
design <- as.matrix(design_table[, -1, drop = FALSE])
rownames(design) <- design_table$sample
counts <- counts[, rownames(design), drop = FALSE]
genes <- read(opt[["genes"]])
stopifnot(identical(genes$gene_id, rownames(counts)))
offsets <- read(opt[["offsets"]])
offset <- offsets$offset[match(rownames(design), offsets$sample)]
vectors <- read(opt[["contrasts"]])
rownames(vectors) <- vectors$coefficient
vectors <- as.matrix(vectors[colnames(design), -1, drop = FALSE])

fit <- glmQLFit(counts, design = design, dispersion = genes$dispersion,
                offset = matrix(offset, nrow(counts), ncol(counts), byrow = TRUE),
                AveLogCPM = genes$abundance)
own <- DGEList(counts)
own <- calcNormFactors(own)
own <- estimateDisp(own, design)
own_fit <- glmQLFit(own, design)
rows <- list()
for (name in colnames(vectors)) {
  test <- glmQLFTest(fit, contrast = vectors[, name])
  own_test <- glmQLFTest(own_fit, contrast = vectors[, name])
  rows[[name]] <- data.frame(contrast = name, gene_id = rownames(counts),
                             F = test$table$F, PValue = test$table$PValue,
                             df_prior = fit$df.prior[1],
                             PValue_edger = own_test$table$PValue,
                             df_prior_edger = own_fit$df.prior[1])
}
write.table(do.call(rbind, rows), opt[["out"]], sep = "\t", quote = FALSE, row.names = FALSE)

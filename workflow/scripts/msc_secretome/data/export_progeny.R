# Export PROGENy's top-100 human and mouse footprints (progeny::getModel selection) as long TSV.
suppressMessages(library(progeny))
for (org in c("Human", "Mouse")) {
  full <- if (org == "Human") progeny::model_human_full else progeny::model_mouse_full
  parts <- lapply(split(full, full$pathway), function(d) {
    d <- d[rank(d$p.value, ties.method = "min") <= 100, ]
    d[order(d$p.value, d$gene), ]
  })
  out <- do.call(rbind, parts)
  out <- out[order(out$pathway, out$p.value, out$gene), c("pathway", "gene", "weight", "p.value")]
  names(out)[4] <- "p_value"
  write.table(out, sprintf("progeny_%s_top100.tsv", tolower(org)), sep = "\t", quote = FALSE,
              row.names = FALSE)
}
cat(as.character(packageVersion("progeny")), "\n")

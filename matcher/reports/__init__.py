"""Reports for analysts and reviewers: match quality against truth, threshold choice, one trace explained."""

"""Clinical rules: vitals, plausibility, assessment, NEWS2, knowledge, medication."""

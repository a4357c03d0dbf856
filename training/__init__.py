"""Training and porting code for the vault's models (DESIGN §7); the notebooks in
training/notebooks drive it. Worker-side ML stack only: never imported by the web process."""

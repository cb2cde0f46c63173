//! (being written: see the module list in main.rs)

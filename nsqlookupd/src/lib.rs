//! nsqlookupd as a library (under construction).

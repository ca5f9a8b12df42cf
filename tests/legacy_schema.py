"""The storage schema as version 1 wrote it, for the migration tests (tests/storage, tests/cli)."""

V1_TABLES = """
CREATE TABLE archscout_meta (key VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE studies (id INTEGER PRIMARY KEY AUTOINCREMENT, name VARCHAR(200) NOT NULL UNIQUE, config TEXT NOT NULL,
    created_at FLOAT NOT NULL, search_seconds FLOAT NOT NULL);
CREATE TABLE trials (id INTEGER PRIMARY KEY AUTOINCREMENT, study_id INTEGER NOT NULL REFERENCES studies(id),
    number INTEGER NOT NULL, arch_id VARCHAR(32) NOT NULL, arch TEXT NOT NULL, budget VARCHAR(200) NOT NULL,
    status VARCHAR(16) NOT NULL, metrics TEXT NOT NULL, details TEXT NOT NULL, error TEXT, seed INTEGER NOT NULL,
    started_at FLOAT NOT NULL, finished_at FLOAT, UNIQUE (study_id, number));
CREATE TABLE finals (id INTEGER PRIMARY KEY AUTOINCREMENT, study_id INTEGER NOT NULL REFERENCES studies(id),
    trial_id INTEGER NOT NULL REFERENCES trials(id), seed INTEGER NOT NULL, budget VARCHAR(200) NOT NULL,
    metrics TEXT NOT NULL, details TEXT NOT NULL, weights BLOB, created_at FLOAT NOT NULL,
    UNIQUE (trial_id, seed, budget));
INSERT INTO archscout_meta VALUES ('schema_version', '1');
"""

-- A run's seed is any integer in 0..2^32-1 (the params' range), which int4 cannot hold above 2^31-1
ALTER TABLE "Run" ALTER COLUMN "seed" SET DATA TYPE BIGINT;

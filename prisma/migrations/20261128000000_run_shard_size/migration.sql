-- AlterTable: the clusterings per shard a run asked for. NULL lets the coordinator size each layer's
-- shards from its estimated cost (packages/mbn/src/shard-plan.ts).
ALTER TABLE "Run" ADD COLUMN "shardSize" INTEGER;

-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateEnum
CREATE TYPE "RunStatus" AS ENUM ('QUEUED', 'RUNNING', 'DISTILLING', 'SUCCEEDED', 'FAILED', 'CANCELLED');

-- CreateEnum
CREATE TYPE "LayerStatus" AS ENUM ('PENDING', 'RUNNING', 'DONE', 'FAILED');

-- CreateEnum
CREATE TYPE "ShardStatus" AS ENUM ('PENDING', 'QUEUED', 'RUNNING', 'DONE', 'FAILED');

-- CreateEnum
CREATE TYPE "VersionStatus" AS ENUM ('PENDING', 'READY', 'FAILED');

-- CreateTable
CREATE TABLE "Dataset" (
    "id" TEXT NOT NULL,
    "sha256" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "format" TEXT NOT NULL,
    "rows" INTEGER NOT NULL,
    "cols" INTEGER NOT NULL,
    "dtype" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL,
    "labelsOf" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Dataset_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Run" (
    "id" TEXT NOT NULL,
    "datasetId" TEXT NOT NULL,
    "labelsId" TEXT,
    "params" JSONB NOT NULL,
    "ks" JSONB NOT NULL,
    "seed" INTEGER NOT NULL,
    "status" "RunStatus" NOT NULL DEFAULT 'QUEUED',
    "currentLayer" INTEGER NOT NULL DEFAULT 0,
    "modelHash" TEXT,
    "modelSha256" TEXT,
    "metrics" JSONB,
    "summary" JSONB,
    "error" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),
    "mbnSeconds" DOUBLE PRECISION,

    CONSTRAINT "Run_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "RunLayer" (
    "runId" TEXT NOT NULL,
    "layer" INTEGER NOT NULL,
    "k" INTEGER NOT NULL,
    "inputSha256" TEXT NOT NULL,
    "outputSha256" TEXT,
    "shardsTotal" INTEGER NOT NULL,
    "shardsDone" INTEGER NOT NULL DEFAULT 0,
    "status" "LayerStatus" NOT NULL DEFAULT 'PENDING',
    "startedAt" TIMESTAMP(3),
    "finishedAt" TIMESTAMP(3),

    CONSTRAINT "RunLayer_pkey" PRIMARY KEY ("runId","layer")
);

-- CreateTable
CREATE TABLE "Shard" (
    "runId" TEXT NOT NULL,
    "layer" INTEGER NOT NULL,
    "index" INTEGER NOT NULL,
    "v0" INTEGER NOT NULL,
    "v1" INTEGER NOT NULL,
    "status" "ShardStatus" NOT NULL DEFAULT 'PENDING',
    "outputSha256" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "workerId" TEXT,
    "seconds" DOUBLE PRECISION,
    "error" TEXT,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "Shard_pkey" PRIMARY KEY ("runId","layer","index")
);

-- CreateTable
CREATE TABLE "RegisteredModel" (
    "name" TEXT NOT NULL,
    "description" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,
    "latestVersion" INTEGER NOT NULL DEFAULT 0,

    CONSTRAINT "RegisteredModel_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "ModelVersion" (
    "id" TEXT NOT NULL,
    "modelName" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "status" "VersionStatus" NOT NULL DEFAULT 'PENDING',
    "artifactSha256" TEXT,
    "artifactBytes" BIGINT,
    "metrics" JSONB NOT NULL,
    "signature" JSONB NOT NULL,
    "runId" TEXT,
    "datasetSha256" TEXT NOT NULL,
    "mbnModelHash" TEXT NOT NULL,
    "params" JSONB NOT NULL,
    "backend" TEXT NOT NULL,
    "tags" JSONB NOT NULL DEFAULT '{}',
    "idempotencyKey" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "readyAt" TIMESTAMP(3),

    CONSTRAINT "ModelVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ModelAlias" (
    "modelName" TEXT NOT NULL,
    "alias" TEXT NOT NULL,
    "versionId" TEXT NOT NULL,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ModelAlias_pkey" PRIMARY KEY ("modelName","alias")
);

-- CreateIndex
CREATE UNIQUE INDEX "Dataset_sha256_key" ON "Dataset"("sha256");

-- CreateIndex
CREATE INDEX "Run_status_idx" ON "Run"("status");

-- CreateIndex
CREATE INDEX "Shard_runId_layer_status_idx" ON "Shard"("runId", "layer", "status");

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_idempotencyKey_key" ON "ModelVersion"("idempotencyKey");

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_modelName_version_key" ON "ModelVersion"("modelName", "version");

-- AddForeignKey
ALTER TABLE "Run" ADD CONSTRAINT "Run_datasetId_fkey" FOREIGN KEY ("datasetId") REFERENCES "Dataset"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Run" ADD CONSTRAINT "Run_labelsId_fkey" FOREIGN KEY ("labelsId") REFERENCES "Dataset"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "RunLayer" ADD CONSTRAINT "RunLayer_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Shard" ADD CONSTRAINT "Shard_runId_fkey" FOREIGN KEY ("runId") REFERENCES "Run"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelVersion" ADD CONSTRAINT "ModelVersion_modelName_fkey" FOREIGN KEY ("modelName") REFERENCES "RegisteredModel"("name") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelAlias" ADD CONSTRAINT "ModelAlias_modelName_fkey" FOREIGN KEY ("modelName") REFERENCES "RegisteredModel"("name") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelAlias" ADD CONSTRAINT "ModelAlias_versionId_fkey" FOREIGN KEY ("versionId") REFERENCES "ModelVersion"("id") ON DELETE RESTRICT ON UPDATE CASCADE;


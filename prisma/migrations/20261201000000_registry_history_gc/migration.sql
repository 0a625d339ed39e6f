-- Alias history (who moved an alias, when, from which version) and the write-ahead list of artifact
-- objects to delete (see prisma/schema.prisma).
-- CreateTable
CREATE TABLE "ModelAliasEvent" (
    "id" BIGSERIAL NOT NULL,
    "modelName" TEXT NOT NULL,
    "alias" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "version" INTEGER,
    "previousVersion" INTEGER,
    "principal" TEXT NOT NULL,
    "at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ModelAliasEvent_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ArtifactDeletion" (
    "sha256" TEXT NOT NULL,
    "reason" TEXT NOT NULL,
    "requestedAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ArtifactDeletion_pkey" PRIMARY KEY ("sha256")
);

-- CreateIndex
CREATE INDEX "ModelAliasEvent_modelName_alias_id_idx" ON "ModelAliasEvent"("modelName", "alias", "id");

-- CreateIndex
CREATE INDEX "ModelVersion_modelName_status_idx" ON "ModelVersion"("modelName", "status");


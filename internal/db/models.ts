import {
  DataTypes,
  Model,
  type CreationOptional,
  type InferAttributes,
  type InferCreationAttributes,
  type Sequelize,
} from 'sequelize';

export class ApplicationModel extends Model<
  InferAttributes<ApplicationModel>,
  InferCreationAttributes<ApplicationModel>
> {
  declare id: CreationOptional<number>;
  declare token: string;
  declare name: string;
  declare chatsCount: CreationOptional<number>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;
}

export interface Models {
  readonly Application: typeof ApplicationModel;
}

const id = { type: DataTypes.BIGINT.UNSIGNED, autoIncrement: true, primaryKey: true };
const timestamps = {
  createdAt: { type: DataTypes.DATE(3), allowNull: false },
  updatedAt: { type: DataTypes.DATE(3), allowNull: false },
};

/**
 * Binds the models to one Sequelize instance. The schema itself is owned by the migrations;
 * these definitions mirror it for queries and must never be `sync`ed. Only applications are
 * written through a model (the create's unique-token error); chats and messages are written
 * and read with SQL.
 */
export function defineModels(sequelize: Sequelize): Models {
  // Model classes are bound per instance, so each Sequelize gets its own subclasses.
  const Application = class extends ApplicationModel {};
  Application.init(
    {
      id,
      token: { type: DataTypes.CHAR(36), allowNull: false, unique: true },
      name: { type: DataTypes.STRING(255), allowNull: false },
      chatsCount: { type: DataTypes.INTEGER.UNSIGNED, allowNull: false, defaultValue: 0 },
      ...timestamps,
    },
    { sequelize, tableName: 'applications', modelName: 'Application' },
  );
  return { Application };
}
